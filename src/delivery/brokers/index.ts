// The broker destinations this process publishes to, one module per kind behind one interface (./types.ts).
import type { BrokerKind } from "../../domain/destinations.js";
import type { TargetPolicy } from "../target-policy.js";
import { createNatsClient } from "./nats.js";
import { createRabbitMqClient } from "./rabbitmq.js";
import type { BrokerClient } from "./types.js";

export type Brokers = Record<BrokerKind, BrokerClient> & { close(): Promise<void> };

/** A client per broker kind, each keeping its connections per broker URL (close them at shutdown). */
export function createBrokers(policy: TargetPolicy): Brokers {
  const clients = { rabbitmq: createRabbitMqClient(policy), nats: createNatsClient(policy) };
  return {
    ...clients,
    async close() {
      await Promise.allSettled(Object.values(clients).map((c) => c.close()));
    },
  };
}
