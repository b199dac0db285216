// `hub consumers create|list|delete|token`: downstream services with their own tokens (docs/security.md).
import { table } from "./cli-format.js";
import { type Io, type Result, str, usage } from "./cli-io.js";

export async function consumerCommand(io: Io, args: string[]): Promise<Result> {
  const consumers = await import("../services/consumers.js");
  const { SHOWN_ONCE } = await import("../services/tokens.js");
  const svc = { db: io.db(), log: io.log };
  const issues = (error: { issues: { path: PropertyKey[]; message: string }[] }) =>
    error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ");
  switch (args[0]) {
    case "create": {
      const input = consumers.newConsumerInput.safeParse({ name: args[1], eventTypes: str(io.values.events)?.split(",").filter(Boolean) });
      if (!args[1] || !input.success) return usage(`consumers create: ${input.success ? "name the consumer" : issues(input.error)}`);
      try {
        const created = await consumers.createConsumer(svc, io.actor, input.data);
        return {
          ok: true,
          data: created,
          text: [
            `created consumer ${JSON.stringify(created.name)} (${created.id}) for ${created.eventTypes.join(", ")}; its token:`,
            "",
            `  ${created.token}`,
            "",
            SHOWN_ONCE,
          ].join("\n"),
        };
      } catch (error) {
        if (error instanceof consumers.ConsumerNameTaken) return { ok: false, text: `a consumer is already named ${JSON.stringify(args[1])}` };
        throw error;
      }
    }
    case "list": {
      const rows = await consumers.listAll(svc);
      return {
        ok: true,
        data: rows,
        text: table(
          rows.map((c) => ({
            id: c.id,
            name: c.name,
            "event types": c.eventTypes.join(","),
            tokens: c.tokens,
            subscriptions: c.subscriptions,
            created: c.createdAt,
            deleted: c.deletedAt ?? "",
          })),
          "no consumers",
        ),
      };
    }
    case "delete": {
      if (!args[1]) return usage("consumers delete: name the consumer's id");
      const removed = await consumers.removeConsumer(svc, io.actor, args[1]);
      if (!removed) return { ok: false, text: `no live consumer ${args[1]}` };
      return {
        ok: true,
        data: removed,
        text: `deleted consumer ${JSON.stringify(removed.name)}: its tokens are refused within a second; ${removed.disabledSubscriptions.length} subscription(s) disabled and kept`,
      };
    }
    case "token": {
      const [, action, id, tokenId] = args;
      if ((action !== "create" && action !== "revoke") || !id || (action === "revoke" && !tokenId))
        return usage("consumers token: create <consumerId> [--expires-in-days N], or revoke <consumerId> <tokenId>");
      if (action === "revoke") {
        const revoked = await consumers.revokeConsumerToken(svc, io.actor, id, tokenId!);
        return revoked
          ? { ok: true, data: revoked, text: `revoked token ${revoked.id} of consumer ${id}` }
          : { ok: false, text: `no live token ${tokenId} of consumer ${id}` };
      }
      const days = str(io.values["expires-in-days"]);
      const input = consumers.newConsumerToken.safeParse(days === undefined ? {} : { expiresInDays: Number(days) });
      if (!input.success) return usage(`consumers token create: ${issues(input.error)}`);
      const token = await consumers.addConsumerToken(svc, io.actor, id, input.data);
      if (!token) return { ok: false, text: `no live consumer ${id}` };
      return { ok: true, data: token, text: [`new token ${token.id} for consumer ${id}:`, "", `  ${token.token}`, "", SHOWN_ONCE].join("\n") };
    }
    default:
      return usage(args[0] ? `consumers: unknown action ${args[0]}` : "consumers: create, list, delete or token");
  }
}
