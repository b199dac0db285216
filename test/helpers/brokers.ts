// Consumers of the broker destinations' messages, as a downstream service would read them: a durable
// RabbitMQ queue bound to an exchange, and a JetStream stream read by an ordered consumer.
import amqp, { type ChannelModel } from "amqplib";
import { connect, type JsMsg, type NatsConnection } from "nats";

export interface ReceivedMessage {
  /** The CloudEvent (structured mode: the body). */
  event: { id: string; type: string; subject: string; source: string; data: { sequence: number } & Record<string, unknown> };
  /** AMQP properties' message-id, or NATS' Nats-Msg-Id. */
  messageId: string;
  contentType: string | undefined;
  headers: Record<string, string>;
  /** RabbitMQ: the routing key; NATS: the subject. */
  routedAs: string;
  persistent?: boolean;
}

export interface QueueReader {
  received: ReceivedMessage[];
  /** Opens the connection again (after the broker restarted), reading on from where the queue stands. */
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

/** A durable topic exchange and a durable queue bound to it with `bindings`; every message read is acked. */
export async function rabbitQueue(url: string, exchange: string, queue: string, bindings: string[]): Promise<QueueReader> {
  const received: ReceivedMessage[] = [];
  let model: ChannelModel | undefined;
  async function open() {
    model = await amqp.connect(url);
    model.on("error", () => undefined);
    const channel = await model.createChannel();
    channel.on("error", () => undefined);
    await channel.assertExchange(exchange, "topic", { durable: true });
    await channel.assertQueue(queue, { durable: true });
    for (const binding of bindings) await channel.bindQueue(queue, exchange, binding);
    await channel.consume(queue, (message) => {
      if (!message) return;
      received.push({
        event: JSON.parse(message.content.toString("utf8")),
        messageId: String(message.properties.messageId),
        contentType: message.properties.contentType,
        headers: Object.fromEntries(Object.entries(message.properties.headers ?? {}).map(([k, v]) => [k, String(v)])),
        routedAs: message.fields.routingKey,
        persistent: message.properties.deliveryMode === 2,
      });
      channel.ack(message);
    });
  }
  await open();
  return {
    received,
    reconnect: open,
    async close() {
      await model?.close().catch(() => undefined);
    },
  };
}

/** A JetStream stream taking `subjects` (created if missing), read from its start by an ordered consumer. */
export async function natsStream(url: string, stream: string, subjects: string[], duplicateWindowMs = 120_000): Promise<QueueReader> {
  const received: ReceivedMessage[] = [];
  let connection: NatsConnection | undefined;
  let next = 1;
  let stop: () => void = () => undefined;
  async function open() {
    connection = await connect({ servers: url.replace(/^nats:\/\//, "") });
    const manager = await connection.jetstreamManager();
    await manager.streams.add({ name: stream, subjects, duplicate_window: duplicateWindowMs * 1_000_000 }).catch(async () => undefined);
    const consumer = await connection.jetstream().consumers.get(stream, { opt_start_seq: next });
    const messages = await consumer.consume();
    stop = () => messages.stop();
    void (async () => {
      for await (const m of messages as AsyncIterable<JsMsg>) {
        next = m.seq + 1;
        received.push({
          event: JSON.parse(m.string()),
          messageId: m.headers?.get("Nats-Msg-Id") ?? "",
          contentType: m.headers?.get("content-type"),
          headers: Object.fromEntries([...(m.headers?.keys() ?? [])].map((k) => [k.toLowerCase(), m.headers!.get(k)])),
          routedAs: m.subject,
        });
      }
    })().catch(() => undefined);
  }
  await open();
  return {
    received,
    reconnect: open,
    async close() {
      stop();
      await connection?.close().catch(() => undefined);
    },
  };
}
