// The admin CLI's usage text (docs/cli.md says the same at length).
export const USAGE = `usage: hub <command> [options]   (npx hub …, or npm run admin -- …; --json: the data, for scripts)

subscriptions
  subscriptions list                                   every endpoint: id, status, URL, event types, limits
  subscriptions show <id>                              one endpoint, its deliveries by status and its lane
  subscriptions create <url> --events a.*,b.c [--description S] [--ordering subject] [--allow-duplicate]
                  [--header "X-Api-Key: v"]... [--allow-authorization]   static headers sent with every attempt
                  [--filters '[{"exact": {"data.phase": "exception"}}]']    only the events that match
  subscriptions create --rabbitmq amqp://user:pass@host/vhost --exchange X [--routing-key '{type}'] --events ...
  subscriptions create --nats nats://host:4222 --subject 'hub.{type}' --events ...
                                                       publish to a broker instead (docs/delivery.md, "Destinations")
  subscriptions set <id> [--events ...] [--ordering none|subject] [--max-in-flight N] [--rate N|none] [--description S]
                  [--header "Name: value"]... (replaces them all) | [--clear-headers] [--filters '<json>' ('[]': none)]
  subscriptions disable|enable|delete <id>
  subscriptions rotate-secret <id>                     a new secret; the old one is still signed with for a grace period
  subscriptions test <id>                              send a signed hub.test to that endpoint and show the outcome
  subscriptions replay <id> --since ISO [--until ISO] [--subject S] [--events a.*,b.c]
                                                       deliver that window's events again (hub-replay header)
  subscriptions replay <id> <replayId>                 a replay's progress
deliveries
  deliveries list --subscription <id> [--status pending|held|succeeded|failed|cancelled] [--type T] [--subject S]
                  [--response-status N] [--since ISO] [--until ISO] [--limit N] [--cursor C]
                                                       search one endpoint's deliveries, newest first; --cursor pages on
  deliveries show <webhookDeliveryId>                  one delivery with every attempt (status, latency, error, answer)
  deliveries retry <webhookDeliveryId> [--force]       send again; one waiting for its next attempt is sent now;
                                                       one already delivered only with --force
  recover <subscriptionId> --since ISO [--include-pending]   re-send failed deliveries (and send waiting ones now)
events
  events list [--type T] [--subject S] [--after CURSOR] [--limit N]
  events show <eventId>
tracking
  tracking list [--active] [--limit N]
  tracking register mfb <orderId> [--reference R]
  tracking register greenflow <code> --lastname L [--time-zone Zone]
  tracking stop mfb|greenflow <id>
tokens (named operator tokens with roles; the value is shown once)
  tokens create <name> --role viewer|operator|admin [--expires-in-days N]
  tokens list                                          every token: role, prefix, last use, expiry; never its value
  tokens revoke <id>                                   every api process refuses it within a second
consumers (downstream services with their own tokens and subscriptions)
  consumers create <name> --events reservation.*,rental.*     the consumer and its first token, shown once
  consumers list                                       every consumer: event types, live tokens and subscriptions
  consumers delete <id>                                its tokens refused, its subscriptions disabled and kept
  consumers token create <id> [--expires-in-days N] | consumers token revoke <id> <tokenId>
inbound webhooks, queues, audit
  webhooks [--status S] [--limit N]                    stored inbound deliveries
  replay-webhook <inboundDeliveryId>                   process a stored inbound delivery again
  queues                                               every queue with its counts
  failed <queue> [--limit N] [--start N]               failed jobs of a queue
  retry <queue> <jobId> | remove <queue> <jobId>       one failed job
  retry-failed <queue> [--name N] [--since ISO] [--reason-contains S]
  audit [--limit N]                                    the audit log, newest first
  tail                                                 inbound webhooks and delivery attempts as they happen (Ctrl-C)

Exit codes: 0 done, 1 refused or not found, 2 usage, 78 configuration.
--as NAME (or HUB_ACTOR): the name the audit log records for this command (default: your user name).
Configured by the environment like the service (DATABASE_URL, REDIS_URL or REDIS_SENTINELS or REDIS_CLUSTER_NODES,
QUEUE_PREFIX, ...); beside a running \`npm run dev\`, by the settings it wrote to .data/dev.env.`;

/**
 * What a usage mistake prints after its one line: the usage of that command only (its lines above), or the
 * list of commands when the command itself is unknown.
 */
export function usageFor(command: string | undefined, sub?: string): string {
  const lines = USAGE.split("\n");
  const linesOf = (name: string) => lines.filter((line) => line.startsWith(`  ${name} `) || line === `  ${name}` || line.startsWith(`  ${name}|`));
  const narrow = sub ? linesOf(`${command} ${sub}`) : [];
  const own = narrow.length > 0 ? narrow : command ? linesOf(command) : [];
  if (own.length > 0) {
    // A line continued below (indented further, no command of its own) belongs to the one above it.
    const withContinuations = lines.filter((line, i) => own.includes(line) || (/^ {20,}\S/.test(line) && own.includes(lines[i - 1]!)));
    return `usage:\n${withContinuations.join("\n")}\n(hub --help: every command)`;
  }
  const commands = [...new Set(lines.filter((l) => /^ {2}[a-z]/.test(l)).map((l) => l.trim().split(/[ |]/)[0]))];
  return `commands: ${commands.join(", ")}\n(hub --help: every command with its options)`;
}
