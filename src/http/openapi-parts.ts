// The building blocks of the OpenAPI document (./openapi.ts): media types, references, parameters, errors.
import { z } from "zod";

export const json = (schema: unknown) => ({ "application/json": { schema } });
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const error = (description: string) => ({ description, content: json(ref("Error")) });
export const ok = (description: string, schema: unknown = { type: "object" }) => ({ description, content: json(schema) });
export const pathParam = (name: string, description = name) => ({ name, in: "path", required: true, schema: { type: "string" }, description });
export const queryParam = (name: string, schema: unknown, description: string) => ({ name, in: "query", required: false, schema, description });
export const secured = { security: [{ bearer: [] }] };
export const authErrors = {
  "401": error("missing or wrong bearer token"),
  "403": error("the token's role does not allow this (reads need viewer, changes operator, tokens admin)"),
  "503": error("neither ADMIN_TOKEN nor any named token is configured"),
};
export const body = (schema: unknown) => ({ required: true, content: json(schema) });
export const toSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
