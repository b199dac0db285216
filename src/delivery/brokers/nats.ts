// NATS JetStream destinations (the `nats` client): one connection per broker URL, shared by every lane that
// publishes there, re-connected by the client after a server restart. Each event is published to the
// subscription's subject in CloudEvents structured mode with `Nats-Msg-Id` = the event id (a replay's:
// `<event id>:<replay id>`), so the stream's de-duplication window drops a re-send; the attempt succeeds on
// the stream's acknowledgement (docs/delivery.md).
import { connect, ErrorCode, headers as natsHeaders, type JetStreamClient, type NatsConnection } from "nats";
import { brokerPort, renderTemplate } from "../../domain/destinations.js";
import type { TargetPolicy } from "../target-policy.js";
import {
  type BrokerClient,
  type BrokerMessage,
  type BrokerTarget,
  brokerAddress,
  connectionFailed,
  connectionsByUrl,
  confirmed,
  messageOf,
  refusedPublish,
  stopwatch,
  unavailable,
} from "./types.js";

const CONTENT_TYPE = "application/cloudevents+json; charset=utf-8";

interface Link {
  connection: NatsConnection;
  stream: JetStreamClient;
  /** Between a disconnect and the client's reconnect. */
  disconnected: boolean;
}

/** Errors that say the server refused us (credentials, permissions), not that it is away. */
const REFUSALS = new Set<string>([
  ErrorCode.AuthorizationViolation,
  ErrorCode.AuthenticationExpired,
  ErrorCode.BadAuthentication,
  ErrorCode.PermissionsViolation,
]);
const AWAY = new Set<string>([ErrorCode.ConnectionRefused, ErrorCode.ConnectionTimeout, ErrorCode.Disconnect, ErrorCode.ConnectionClosed]);
const codeOf = (error: unknown) => String((error as { code?: unknown } | null)?.code ?? "");

/** The message id JetStream de-duplicates on: the event's, or for a replay one of its own (the window must not drop it). */
export const natsMessageId = (eventId: string, replayId: string | null) => (replayId ? `${eventId}:${replayId}` : eventId);

export function createNatsClient(policy: TargetPolicy): BrokerClient {
  const links = connectionsByUrl(open);

  async function open(raw: string, timeoutMs: number): Promise<Link> {
    const { url, host, address } = await brokerAddress(policy, raw);
    const tls = url.protocol === "tls:";
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    const connection = await connect({
      // TLS checks the certificate against the host name; plain connections go to the address checked.
      servers: `${tls ? host : address.includes(":") ? `[${address}]` : address}:${brokerPort(url)}`,
      ...(tls ? { tls: {} } : {}),
      // nats://user:pass@host, or nats://token@host
      ...(pass ? { user, pass } : user ? { token: user } : {}),
      name: "logistics-event-hub",
      timeout: timeoutMs,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      ignoreClusterUpdates: true,
    });
    const link: Link = { connection, stream: connection.jetstream({ timeout: timeoutMs }), disconnected: false };
    void (async () => {
      for await (const status of connection.status()) {
        if (status.type === "disconnect") link.disconnected = true;
        else if (status.type === "reconnect") link.disconnected = false;
      }
    })().catch(() => undefined);
    void connection.closed().then(() => links.drop(raw));
    return link;
  }

  async function publish(target: BrokerTarget, message: BrokerMessage, timeoutMs: number) {
    const elapsed = stopwatch();
    if (target.options.type !== "nats") return refusedPublish(0, "not a nats destination");
    const subject = renderTemplate(target.options.subject, message.attributes, "nats");
    let link: Link;
    try {
      link = await links.get(target.url, timeoutMs);
    } catch (error) {
      return connectionFailed(error, elapsed(), "server", (e) => REFUSALS.has(codeOf(e)));
    }
    if (link.disconnected) return unavailable(elapsed(), "disconnected from the server (reconnecting)");
    const headers = natsHeaders();
    headers.set("content-type", CONTENT_TYPE);
    for (const [name, value] of Object.entries(message.headers)) headers.set(name, value);
    if (message.replayId) headers.set("hub-replay", message.replayId);
    try {
      const ack = await link.stream.publish(subject, Buffer.from(message.body), {
        msgID: natsMessageId(message.eventId, message.replayId),
        headers,
        timeout: timeoutMs,
      });
      return confirmed(elapsed(), `stream ${ack.stream} sequence ${ack.seq}${ack.duplicate ? " (a duplicate: the stream already held it)" : ""}`);
    } catch (error) {
      const code = codeOf(error);
      if (code === ErrorCode.NoResponders) return refusedPublish(elapsed(), `no JetStream stream takes subject "${subject}" (503 no responders)`);
      if (AWAY.has(code) || link.disconnected || link.connection.isClosed()) return unavailable(elapsed(), `the server went away: ${messageOf(error)}`);
      if (code === ErrorCode.Timeout) return refusedPublish(elapsed(), `no acknowledgement from the stream within ${timeoutMs} ms`);
      return refusedPublish(elapsed(), `the stream refused the message: ${messageOf(error)}`);
    }
  }

  return {
    publish,
    async close() {
      await Promise.allSettled(links.drain().map(async (link) => (await link).connection.close()));
    },
  };
}
