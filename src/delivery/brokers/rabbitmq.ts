// RabbitMQ destinations (AMQP 0-9-1, amqplib): one connection per broker URL, shared by every lane that
// publishes there, and on it one confirm channel per exchange (the broker closes a channel that publishes to a
// missing exchange: that must not fail the publishes of other subscriptions). Each event is published to the subscription's exchange with its routing
// key, `mandatory` (a message that reaches no queue comes back: a failure, never a silent loss), persistent,
// in CloudEvents structured mode, and the attempt succeeds on the broker's confirm (docs/delivery.md).
import amqp, { type ChannelModel, type ConfirmChannel, type Message } from "amqplib";
import { AMQP_SHORT_STRING, brokerPort, renderTemplate, virtualHost } from "../../domain/destinations.js";
import type { TargetPolicy } from "../target-policy.js";
import {
  type BrokerClient,
  type BrokerMessage,
  type BrokerTarget,
  brokerAddress,
  confirmed,
  connectionFailed,
  connectionsByUrl,
  messageOf,
  refusedPublish,
  stopwatch,
  unavailable,
} from "./types.js";

const CONTENT_TYPE = "application/cloudevents+json";

interface Link {
  model: ChannelModel;
  /** A confirm channel per exchange, opened on first use and again after the broker closed it. */
  channels: Map<string, Promise<Channel>>;
  /** Why the broker blocked publishing (a resource alarm), while it does. */
  blocked: string | null;
  closed: boolean;
}

interface Channel {
  channel: ConfirmChannel;
  /** Why the server closed it (an exchange that does not exist, say). */
  error: string | null;
  /** Messages that came back unroutable, by routing key and message id, until their confirm is read. */
  returned: Map<string, number>;
}

const returnKey = (routingKey: string, messageId: string) => `${routingKey}\u0000${messageId}`;

/** Errors that say the broker refused us (credentials, virtual host), not that it is away. */
const refusesUs = (error: unknown) => /ACCESS[-_]REFUSED|NOT[-_]ALLOWED|\b403\b|\b530\b/.test(messageOf(error));

export function createRabbitMqClient(policy: TargetPolicy): BrokerClient {
  const links = connectionsByUrl(open);

  async function open(raw: string, timeoutMs: number): Promise<Link> {
    const { url, host, address } = await brokerAddress(policy, raw);
    const model = await amqp.connect(
      {
        protocol: url.protocol.slice(0, -1),
        hostname: address,
        port: brokerPort(url),
        username: decodeURIComponent(url.username) || "guest",
        password: decodeURIComponent(url.password) || "guest",
        vhost: virtualHost(url),
        heartbeat: 30,
      },
      { timeout: timeoutMs, servername: host },
    );
    const link: Link = { model, channels: new Map(), blocked: null, closed: false };
    model.on("error", () => undefined); // a close follows, which drops the link
    model.on("close", () => {
      link.closed = true;
      links.drop(raw);
    });
    model.on("blocked", (reason: string) => {
      link.blocked = reason || "resource alarm";
    });
    model.on("unblocked", () => {
      link.blocked = null;
    });
    return link;
  }

  function channelOf(link: Link, exchange: string): Promise<Channel> {
    let opening = link.channels.get(exchange);
    if (!opening) {
      const opened = link.model.createConfirmChannel().then((channel) => {
        const state: Channel = { channel, error: null, returned: new Map() };
        channel.on("error", (error: Error) => {
          state.error = error.message;
        });
        channel.on("close", () => {
          if (link.channels.get(exchange) === opened) link.channels.delete(exchange);
        });
        channel.on("return", (message: Message) => {
          const key = returnKey(message.fields.routingKey, String(message.properties.messageId));
          state.returned.set(key, (state.returned.get(key) ?? 0) + 1);
        });
        return state;
      });
      opening = opened;
      link.channels.set(exchange, opened);
      opened.catch(() => {
        if (link.channels.get(exchange) === opened) link.channels.delete(exchange);
      });
    }
    return opening;
  }

  /** Whether this publish came back unroutable (its return arrives before its confirm). */
  function takeReturned(state: Channel, key: string): boolean {
    const count = state.returned.get(key) ?? 0;
    if (count === 0) return false;
    if (count === 1) state.returned.delete(key);
    else state.returned.set(key, count - 1);
    return true;
  }

  async function publish(target: BrokerTarget, message: BrokerMessage, timeoutMs: number) {
    const elapsed = stopwatch();
    if (target.options.type !== "rabbitmq") return refusedPublish(0, "not a rabbitmq destination");
    const { exchange } = target.options;
    const routingKey = renderTemplate(target.options.routingKey, message.attributes, "rabbitmq");
    if (Buffer.byteLength(routingKey) > AMQP_SHORT_STRING) return refusedPublish(0, `the routing key is longer than ${AMQP_SHORT_STRING} bytes`);
    let link: Link;
    let state: Channel;
    try {
      link = await links.get(target.url, timeoutMs);
      if (link.blocked) return unavailable(elapsed(), `the broker blocked publishing (${link.blocked})`);
      state = await channelOf(link, exchange);
    } catch (error) {
      return connectionFailed(error, elapsed(), "broker", refusesUs);
    }
    const key = returnKey(routingKey, message.eventId);
    return new Promise<ReturnType<typeof confirmed>>((done) => {
      const timer = setTimeout(() => done(refusedPublish(elapsed(), `no confirm from the broker within ${timeoutMs} ms`)), timeoutMs);
      const settle = (error: unknown) => {
        clearTimeout(timer);
        // The channel's close reason is emitted beside the failed confirms: read it once both are in.
        setImmediate(() => {
          if (link.closed) return done(unavailable(elapsed(), "the connection to the broker was lost before the confirm"));
          if (error) return done(refusedPublish(elapsed(), state.error ?? `the broker refused the message (${messageOf(error)})`));
          if (takeReturned(state, key))
            return done(refusedPublish(elapsed(), `the message reached no queue: exchange "${exchange}", routing key "${routingKey}"`));
          done(confirmed(elapsed(), "confirmed by the broker"));
        });
      };
      try {
        state.channel.publish(
          exchange,
          routingKey,
          Buffer.from(message.body),
          {
            mandatory: true,
            persistent: true,
            contentType: CONTENT_TYPE,
            messageId: message.eventId,
            type: message.attributes.type,
            timestamp: Math.floor(Date.now() / 1000),
            appId: "logistics-event-hub",
            headers: { ...message.headers, ...(message.replayId ? { "hub-replay": message.replayId } : {}) },
          },
          settle,
        );
      } catch (error) {
        clearTimeout(timer);
        done(unavailable(elapsed(), `the channel to the broker is closed (${messageOf(error)})`));
      }
    });
  }

  return {
    publish,
    async close() {
      await Promise.allSettled(links.drain().map(async (link) => (await link).model.close()));
    },
  };
}
