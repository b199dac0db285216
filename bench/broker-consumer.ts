// The benchmarks' broker destination: a private RabbitMQ or NATS (JetStream) server, and a consumer in this
// process reading what the worker published (a durable queue bound to the exchange, or a stream consumer), so
// that latency is measured as for the HTTP subscriber: webhook sent (the event's time) → message read.
import path from "node:path";
import amqp, { type ChannelModel } from "amqplib";
import { connect, type JsMsg, type NatsConnection } from "nats";
import { startNats, startRabbitMq } from "../scripts/lib/brokers.js";
import type { LocalServer } from "../scripts/lib/local-services.js";

export type BrokerKind = "rabbitmq" | "nats";

export interface BrokerConsumer {
  /** The subscription's `destination`. */
  destination: Record<string, string>;
  /** The broker's process group (its CPU is counted apart from the hub's). */
  pid: number;
  seen: Set<string>;
  latencies: number[];
  outOfOrder(): number;
  close(): Promise<void>;
}

export async function startBrokerConsumer(kind: BrokerKind, dataDir: string): Promise<BrokerConsumer> {
  const server: LocalServer =
    kind === "rabbitmq" ? await startRabbitMq({ dataDir: path.join(dataDir, "rabbitmq") }) : await startNats({ dataDir: path.join(dataDir, "nats") });
  const seen = new Set<string>();
  const latencies: number[] = [];
  const highest = new Map<string, number>();
  let outOfOrder = 0;
  const arrived = (body: string) => {
    const event = JSON.parse(body) as { id: string; time: string; subject: string; data: { sequence: number } };
    if (seen.has(event.id)) return;
    seen.add(event.id);
    latencies.push(Date.now() - Date.parse(event.time));
    if (event.data.sequence < (highest.get(event.subject) ?? 0)) outOfOrder++;
    highest.set(event.subject, Math.max(highest.get(event.subject) ?? 0, event.data.sequence));
  };

  let close: () => Promise<void>;
  let destination: Record<string, string>;
  if (kind === "rabbitmq") {
    const model: ChannelModel = await amqp.connect(server.url);
    const channel = await model.createChannel();
    await channel.assertExchange("hub.events", "topic", { durable: true });
    await channel.assertQueue("bench", { durable: true });
    await channel.bindQueue("bench", "hub.events", "#");
    await channel.prefetch(1_000);
    await channel.consume("bench", (m) => {
      if (!m) return;
      arrived(m.content.toString("utf8"));
      channel.ack(m);
    });
    destination = { type: "rabbitmq", url: server.url, exchange: "hub.events", routingKey: "{type}" };
    close = async () => {
      await model.close().catch(() => undefined);
    };
  } else {
    const nc: NatsConnection = await connect({ servers: server.url.replace(/^nats:\/\//, "") });
    await (await nc.jetstreamManager()).streams.add({ name: "BENCH", subjects: ["hub.>"] });
    const messages = await (await nc.jetstream().consumers.get("BENCH")).consume({ max_messages: 1_000 });
    void (async () => {
      for await (const m of messages as AsyncIterable<JsMsg>) arrived(m.string());
    })().catch(() => undefined);
    destination = { type: "nats", url: server.url, subject: "hub.{type}" };
    close = async () => {
      // Stopped before the connection closes, or the client complains of every pull left pending.
      messages.stop();
      await nc.close().catch(() => undefined);
    };
  }
  return {
    destination,
    pid: server.pid!,
    seen,
    latencies,
    outOfOrder: () => outOfOrder,
    async close() {
      await close();
      await server.stop();
    },
  };
}
