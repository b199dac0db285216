-- CreateTable
CREATE TABLE "inbound_deliveries" (
    "id" UUID NOT NULL,
    "provider" TEXT NOT NULL,
    "body_digest" TEXT NOT NULL,
    "raw_body" BYTEA NOT NULL,
    "headers" JSONB NOT NULL,
    "request_id" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status" TEXT NOT NULL,
    "status_reason" TEXT,
    "processed_at" TIMESTAMPTZ(3),
    "process_count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "inbound_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reservations" (
    "id" TEXT NOT NULL,
    "external_id" TEXT,
    "state" TEXT NOT NULL,
    "cancellation_reason" TEXT,
    "final_costs" JSONB,
    "vehicles" JSONB,
    "last_payload" JSONB,
    "sequence" INTEGER NOT NULL DEFAULT 0,
    "last_changed_at" TIMESTAMPTZ(3) NOT NULL,
    "last_reconciled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "reservations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "reservation_transitions" (
    "id" BIGSERIAL NOT NULL,
    "reservation_id" TEXT NOT NULL,
    "from_state" TEXT,
    "to_state" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    "delivery_id" UUID,
    "event_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reservation_transitions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "events" (
    "id" UUID NOT NULL,
    "position" BIGINT,
    "source" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "entity" TEXT NOT NULL,
    "entity_id" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "time" TIMESTAMPTZ(3) NOT NULL,
    "dedupe_key" TEXT NOT NULL,
    "envelope" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "relayed_at" TIMESTAMPTZ(3),
    "request_id" TEXT,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "subscriptions" (
    "id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "event_types" TEXT[],
    "description" TEXT,
    "secret" TEXT NOT NULL,
    "previous_secret" TEXT,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "status" TEXT NOT NULL DEFAULT 'active',
    "disabled_reason" TEXT,
    "disabled_at" TIMESTAMPTZ(3),
    "failing_since" TIMESTAMPTZ(3),
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "deleted_at" TIMESTAMPTZ(3),

    CONSTRAINT "subscriptions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL,
    "event_id" UUID NOT NULL,
    "subscription_id" UUID NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_status_code" INTEGER,
    "last_error" TEXT,
    "next_attempt_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "delivery_attempts" (
    "id" BIGSERIAL NOT NULL,
    "delivery_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "attempted_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "status_code" INTEGER,
    "error" TEXT,
    "response_excerpt" TEXT,

    CONSTRAINT "delivery_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "mfb_orders" (
    "id" UUID NOT NULL,
    "reference" TEXT,
    "status" TEXT,
    "sequence" INTEGER NOT NULL DEFAULT 0,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "next_poll_at" TIMESTAMPTZ(3),
    "last_polled_at" TIMESTAMPTZ(3),
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "stopped_reason" TEXT,
    "stopped_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "mfb_orders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "mfb_parcels" (
    "order_id" UUID NOT NULL,
    "parcel_index" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "last_code" TEXT NOT NULL,
    "last_event_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "mfb_parcels_pkey" PRIMARY KEY ("order_id","parcel_index")
);

-- CreateTable
CREATE TABLE "mfb_tracking_events" (
    "id" BIGSERIAL NOT NULL,
    "order_id" UUID NOT NULL,
    "parcel_index" INTEGER NOT NULL,
    "code" TEXT NOT NULL,
    "happened_at" TIMESTAMPTZ(3) NOT NULL,
    "label" JSONB NOT NULL,
    "location" JSONB,
    "details" JSONB,
    "first_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mfb_tracking_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "greenflow_bookings" (
    "booking_code" TEXT NOT NULL,
    "lastname" TEXT NOT NULL,
    "local_number" TEXT,
    "uuid" TEXT,
    "status" TEXT,
    "gds_status" TEXT,
    "pickup_date" TEXT,
    "dropoff_date" TEXT,
    "sequence" INTEGER NOT NULL DEFAULT 0,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "next_poll_at" TIMESTAMPTZ(3),
    "last_polled_at" TIMESTAMPTZ(3),
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "stopped_reason" TEXT,
    "stopped_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "greenflow_bookings_pkey" PRIMARY KEY ("booking_code")
);

-- CreateTable
CREATE TABLE "provider_states" (
    "provider" TEXT NOT NULL,
    "paused_until" TIMESTAMPTZ(3),
    "pause_reason" TEXT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "provider_states_pkey" PRIMARY KEY ("provider")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target" TEXT,
    "details" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "inbound_deliveries_status_received_at_idx" ON "inbound_deliveries"("status", "received_at");

-- CreateIndex
CREATE UNIQUE INDEX "inbound_deliveries_provider_body_digest_key" ON "inbound_deliveries"("provider", "body_digest");

-- CreateIndex
CREATE INDEX "reservations_state_last_changed_at_idx" ON "reservations"("state", "last_changed_at");

-- CreateIndex
CREATE INDEX "reservation_transitions_reservation_id_id_idx" ON "reservation_transitions"("reservation_id", "id");

-- CreateIndex
CREATE UNIQUE INDEX "reservation_transitions_delivery_id_key" ON "reservation_transitions"("delivery_id");

-- CreateIndex
CREATE UNIQUE INDEX "events_position_key" ON "events"("position");

-- CreateIndex
CREATE UNIQUE INDEX "events_dedupe_key_key" ON "events"("dedupe_key");

-- CreateIndex
CREATE INDEX "events_subject_position_idx" ON "events"("subject", "position");

-- CreateIndex
CREATE INDEX "events_type_position_idx" ON "events"("type", "position");

-- CreateIndex
CREATE UNIQUE INDEX "events_entity_entity_id_sequence_key" ON "events"("entity", "entity_id", "sequence");

-- CreateIndex
CREATE INDEX "webhook_deliveries_status_created_at_idx" ON "webhook_deliveries"("status", "created_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_subscription_id_status_created_at_idx" ON "webhook_deliveries"("subscription_id", "status", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_deliveries_event_id_subscription_id_key" ON "webhook_deliveries"("event_id", "subscription_id");

-- CreateIndex
CREATE INDEX "delivery_attempts_delivery_id_id_idx" ON "delivery_attempts"("delivery_id", "id");

-- CreateIndex
CREATE INDEX "mfb_orders_active_next_poll_at_idx" ON "mfb_orders"("active", "next_poll_at");

-- CreateIndex
CREATE UNIQUE INDEX "mfb_tracking_events_order_id_parcel_index_code_happened_at_key" ON "mfb_tracking_events"("order_id", "parcel_index", "code", "happened_at");

-- CreateIndex
CREATE INDEX "greenflow_bookings_active_next_poll_at_idx" ON "greenflow_bookings"("active", "next_poll_at");

-- CreateIndex
CREATE INDEX "audit_log_created_at_idx" ON "audit_log"("created_at");

-- AddForeignKey
ALTER TABLE "reservation_transitions" ADD CONSTRAINT "reservation_transitions_reservation_id_fkey" FOREIGN KEY ("reservation_id") REFERENCES "reservations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "reservation_transitions" ADD CONSTRAINT "reservation_transitions_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "inbound_deliveries"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_subscription_id_fkey" FOREIGN KEY ("subscription_id") REFERENCES "subscriptions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "delivery_attempts" ADD CONSTRAINT "delivery_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "mfb_parcels" ADD CONSTRAINT "mfb_parcels_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "mfb_orders"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "mfb_tracking_events" ADD CONSTRAINT "mfb_tracking_events_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "mfb_orders"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
