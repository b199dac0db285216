// Consumers (admins only: domain/access.ts): downstream services with their own tokens and subscriptions.
import { Router } from "express";
import * as consumers from "../services/consumers.js";
import type { AppDeps } from "./deps.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";

export function consumerRoutes(deps: AppDeps): Router {
  const router = Router();
  const svc: consumers.ConsumerDeps = { db: deps.db, log: deps.log };
  const actor = (req: { actor?: string }) => req.actor ?? "admin";
  const notFound = () => new HttpError(404, "not_found", "no live consumer with that id");

  router.post("/admin/consumers", async (req, res) => {
    const input = parseInput(consumers.newConsumerInput, req.body);
    try {
      res.status(201).json(await consumers.createConsumer(svc, actor(req), input));
    } catch (error) {
      if (error instanceof consumers.ConsumerNameTaken)
        throw new HttpError(409, "consumer_name_taken", `a consumer is already named ${JSON.stringify(input.name)}`);
      throw error;
    }
  });

  router.get("/admin/consumers", async (_req, res) => {
    res.json({ data: await consumers.listAll(svc) });
  });

  router.patch("/admin/consumers/:id", async (req, res) => {
    const change = parseInput(consumers.consumerChange, req.body);
    try {
      const updated = await consumers.changeConsumer(svc, actor(req), req.params.id, change);
      if (!updated) throw notFound();
      res.json(updated);
    } catch (error) {
      if (error instanceof consumers.ConsumerNameTaken)
        throw new HttpError(409, "consumer_name_taken", `a consumer is already named ${JSON.stringify(change.name)}`);
      throw error;
    }
  });

  router.delete("/admin/consumers/:id", async (req, res) => {
    const removed = await consumers.removeConsumer(svc, actor(req), req.params.id);
    if (!removed) throw notFound();
    res.json(removed);
  });

  router.post("/admin/consumers/:id/tokens", async (req, res) => {
    const token = await consumers.addConsumerToken(svc, actor(req), req.params.id, parseInput(consumers.newConsumerToken, req.body));
    if (!token) throw notFound();
    res.status(201).json(token);
  });

  router.get("/admin/consumers/:id/tokens", async (req, res) => {
    res.json({ data: await consumers.consumerTokens(svc, req.params.id) });
  });

  router.delete("/admin/consumers/:id/tokens/:tokenId", async (req, res) => {
    const revoked = await consumers.revokeConsumerToken(svc, actor(req), req.params.id, req.params.tokenId);
    if (!revoked) throw new HttpError(404, "not_found", "no live token with that id for that consumer");
    res.json(revoked);
  });
  return router;
}
