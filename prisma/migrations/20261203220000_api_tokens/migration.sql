-- Named operator tokens with roles (docs/security.md). A token's value is shown once, when it is created,
-- and stored only as its SHA-256: the table holds nothing that opens the hub. `prefix` is the value's first
-- characters, for people to tell their tokens apart in lists (it is not enough to guess the rest).
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    "expires_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "revoked_by" TEXT,
    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "api_tokens_role_check" CHECK ("role" IN ('viewer', 'operator', 'admin')),
    CONSTRAINT "api_tokens_name_check" CHECK (length("name") BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens" ("token_hash");
-- One live token per name: the audit log's "alice" is one person's.
CREATE UNIQUE INDEX "api_tokens_live_name_key" ON "api_tokens" (lower("name")) WHERE "revoked_at" IS NULL;
