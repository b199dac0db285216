// `hub tokens create|list|revoke`: named operator tokens (docs/security.md). Whoever can run the CLI holds
// DATABASE_URL, so the CLI acts as an admin; `--as NAME` puts a person's name in the audit rows.
import { table } from "./cli-format.js";
import { type Io, type Result, str, usage } from "./cli-io.js";

export async function tokenCommand(io: Io, args: string[]): Promise<Result> {
  const tokens = await import("../services/tokens.js");
  const svc = { db: io.db(), log: io.log };
  switch (args[0]) {
    case "create": {
      const days = str(io.values["expires-in-days"]);
      const input = tokens.newTokenInput.safeParse({
        name: args[1],
        role: str(io.values.role),
        ...(days === undefined ? {} : { expiresInDays: Number(days) }),
      });
      if (!args[1] || !input.success) {
        const problem = input.success ? "name the token" : input.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ");
        return usage(`tokens create: ${problem}`);
      }
      try {
        const created = await tokens.createToken(svc, io.actor, input.data);
        return {
          ok: true,
          data: created,
          text: [
            `created ${created.role} token ${JSON.stringify(created.name)} (${created.id})${created.expiresAt ? `, expires ${created.expiresAt}` : ""}`,
            "",
            `  ${created.token}`,
            "",
            tokens.SHOWN_ONCE,
          ].join("\n"),
        };
      } catch (error) {
        if (error instanceof tokens.TokenNameTaken)
          return { ok: false, text: `a live token is already named ${JSON.stringify(args[1])}; revoke it first or pick another name` };
        throw error;
      }
    }
    case "list": {
      const rows = await tokens.listTokens(svc);
      return {
        ok: true,
        data: rows,
        text: table(
          rows.map((t) => ({
            id: t.id,
            name: t.name,
            role: t.role,
            prefix: `${t.prefix}…`,
            created: t.createdAt,
            expires: t.expiresAt ?? "never",
            "last used": t.lastUsedAt ?? "never",
            revoked: t.revokedAt ?? "",
          })),
          "no named tokens (ADMIN_TOKEN alone opens the hub)",
        ),
      };
    }
    case "revoke": {
      if (!args[1]) return usage("tokens revoke: name the token's id");
      const revoked = await tokens.revokeToken(svc, io.actor, args[1]);
      if (!revoked) return { ok: false, text: `no live token ${args[1]}` };
      return { ok: true, data: revoked, text: `revoked ${revoked.role} token ${JSON.stringify(revoked.name)}: every api process refuses it within a second` };
    }
    default:
      return usage(args[0] ? `tokens: unknown action ${args[0]}` : "tokens: create, list or revoke");
  }
}
