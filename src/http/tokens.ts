// Named operator tokens (admins only: domain/access.ts): create (the value shown once), list, revoke.
import { Router } from "express";
import * as tokens from "../services/tokens.js";
import type { AppDeps } from "./deps.js";
import { HttpError } from "./errors.js";
import { parseInput } from "./validate.js";

export function tokenRoutes(deps: AppDeps): Router {
  const router = Router();
  const svc: tokens.TokenDeps = { db: deps.db, log: deps.log };
  const actor = (req: { actor?: string }) => req.actor ?? "admin";

  router.post("/admin/tokens", async (req, res) => {
    const input = parseInput(tokens.newTokenInput, req.body);
    try {
      res.status(201).json(await tokens.createToken(svc, actor(req), input));
    } catch (error) {
      if (error instanceof tokens.TokenNameTaken)
        throw new HttpError(409, "token_name_taken", `a live token is already named ${JSON.stringify(input.name)}; revoke it first or pick another name`);
      throw error;
    }
  });

  router.get("/admin/tokens", async (_req, res) => {
    res.json({ data: await tokens.listTokens(svc) });
  });

  router.delete("/admin/tokens/:id", async (req, res) => {
    const revoked = await tokens.revokeToken(svc, actor(req), req.params.id);
    if (!revoked) throw new HttpError(404, "not_found", "no live token with that id");
    res.json(revoked);
  });
  return router;
}
