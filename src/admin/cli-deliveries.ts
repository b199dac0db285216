// `deliveries …`: the admin CLI's search over one endpoint's deliveries, one delivery with every attempt, and
// an operator's re-send.
import { deliveryWithAttempts } from "../db/webhook-deliveries.js";
import * as admin from "../services/admin.js";
import { cursorOf, deliverySearchQuery } from "../services/delivery-search.js";
import * as subscriptions from "../services/subscriptions.js";
import { record, table } from "./cli-format.js";
import { adminDeps, type Io, outcome, type Result, str, usage } from "./cli-io.js";

/** A search field as its command-line flag (`responseStatus` → `response-status`). */
const flag = (field: string) => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export async function deliveryCommand(io: Io, [sub, id]: string[]): Promise<Result> {
  switch (sub) {
    case "list": {
      const subscription = str(io.values.subscription);
      if (!subscription) return usage("deliveries list: give --subscription <id>");
      const v = io.values;
      const parsed = deliverySearchQuery.safeParse({
        status: str(v.status),
        since: str(v.since),
        until: str(v.until),
        responseStatus: str(v["response-status"]),
        type: str(v.type),
        subject: str(v.subject),
        limit: str(v.limit),
        cursor: str(v.cursor),
      });
      if (!parsed.success) return usage(`deliveries list: ${parsed.error.issues.map((i) => `--${flag(i.path.join("."))}: ${i.message}`).join("; ")}`);
      const rows = await subscriptions.deliveries({ db: io.db() }, subscription, parsed.data);
      if (!rows) return { ok: false, text: `no subscription ${subscription}` };
      const next = rows.length === parsed.data.limit ? cursorOf(rows.at(-1)!) : null;
      return {
        ok: true,
        data: { data: rows, nextCursor: next },
        text: `${table(
          rows.map((d) => ({
            id: d.id,
            event: d.eventType,
            subject: d.subject,
            created: d.createdAt,
            status: d.status,
            attempts: d.attempts,
            answer: d.lastStatusCode,
            "next attempt": d.nextAttemptAt,
            error: d.lastError,
          })),
          "no deliveries",
        )}${next ? `\nmore: the same command with --cursor ${next}` : ""}`,
      };
    }
    case "show": {
      if (!id) return usage("deliveries show: name the delivery");
      const d = /^[0-9a-f-]{36}$/i.test(id) ? await deliveryWithAttempts(io.db(), id) : null;
      if (!d) return { ok: false, text: `no delivery ${id}` };
      return {
        ok: true,
        data: d,
        text: `${record({
          id: d.id,
          event: `${d.eventType} ${d.subject} (${d.eventId})`,
          subscription: d.subscriptionId,
          status: d.status,
          "next attempt": d.nextAttemptAt,
          created: d.createdAt,
        })}\n${table(
          d.attemptLog.map((a) => ({
            attempt: a.attempt,
            at: a.attemptedAt,
            status: a.statusCode,
            ms: a.durationMs,
            error: a.error,
            answer: a.responseExcerpt?.slice(0, 60),
          })),
          "no attempts yet",
        )}`,
      };
    }
    case "retry":
      if (!id) return usage("deliveries retry: name the delivery");
      return outcome(await admin.retryDelivery(adminDeps(io), io.actor, id, { force: io.values.force === true }), ["queued"]);
    default:
      return usage(`unknown deliveries command: ${sub ?? "(none)"}`);
  }
}
