-- The fan-out backlog: events whose deliveries to some subscriptions are still to be written.
-- An event that matches more than a few dozen subscriptions (src/db/fan-out.ts, INLINE_FAN_OUT) gets, in its
-- writer's transaction, only the deliveries that must or can start at once: those of ordered subscriptions
-- and those the writer leases. The rest are written after the commit by the outbox relay, in their own
-- transactions (src/db/fan-out-backlog.ts), so that a webhook fanned out to a thousand subscriptions does
-- not hold every other subscription's first attempt behind a thousand-row insert. The row is written in the
-- same transaction as the event, and deleted in the same transaction as the deliveries: nothing is lost to a
-- crash in between, and (event, subscription) is unique, so nothing is written twice.
CREATE TABLE "fan_out_backlog" (
    "event_id" UUID NOT NULL,
    "position" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "fan_out_backlog_pkey" PRIMARY KEY ("event_id"),
    CONSTRAINT "fan_out_backlog_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE INDEX "fan_out_backlog_position_idx" ON "fan_out_backlog"("position");
