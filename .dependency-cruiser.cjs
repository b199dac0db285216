// The layer rules, checked in CI (`npm run check:architecture`). A webhook travels
//   http → services / pipeline (ingress, inbox) → providers (clients) → domain (pure) and db (every statement)
// and delivery, the pipeline and maintenance are what the worker runs. docs/architecture.md draws it.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle hides which module owns what; break it by moving the shared piece down a layer.",
      from: {},
      to: { circular: true },
    },
    {
      name: "only-db-touches-the-database",
      severity: "error",
      comment: "Only src/db imports the Prisma client, its generated types or pg: every statement lives there.",
      from: { path: "^src/", pathNot: "^src/(db|generated)/" },
      to: { path: ["^src/generated/", "node_modules/(pg|pg-pool|@prisma/[^/]+)/"] },
    },
    {
      name: "db-clients-stay-in-db",
      severity: "error",
      comment: "A Database handle is opaque outside src/db: its Prisma client and pg pool are reached through src/db/clients.ts, which only src/db imports.",
      from: { path: "^src/", pathNot: "^src/db/" },
      to: { path: "^src/db/clients\\.ts$" },
    },
    {
      name: "http-goes-through-services",
      severity: "error",
      comment: "Routes parse and answer; what they do lives in services (src/services; the Flovi ingress in src/pipeline). Types only from src/db.",
      from: { path: "^src/http/" },
      // The Database handle itself is passed through (its type); nothing else of src/db.
      to: { path: "^src/db/", pathNot: "^src/db/client\\.ts$" },
    },
    {
      name: "nothing-below-imports-http",
      severity: "error",
      comment: "http is the top layer: no service, provider or db module imports it.",
      from: { path: "^src/", pathNot: "^src/(http/|app\\.ts|main\\.ts|runtime\\.ts)" },
      to: { path: "^src/(http/|app\\.ts)" },
    },
    {
      name: "the-cli-is-a-leaf",
      severity: "error",
      comment: "src/admin is the admin CLI: it calls services, and nothing calls it (operator actions live in src/services).",
      from: { path: "^src/", pathNot: "^src/admin/" },
      to: { path: "^src/admin/" },
    },
    {
      name: "providers-are-clients",
      severity: "error",
      comment:
        "src/providers holds the providers' clients and the shapes of what they send: it knows nothing of the pipeline that uses them, nor of anything above.",
      from: { path: "^src/providers/" },
      to: { path: "^src/(pipeline|services|admin|delivery|queues|workers|worker\\.ts|runtime\\.ts|http)" },
    },
    {
      name: "pipeline-stays-below-services",
      severity: "error",
      comment: "src/pipeline (receipt to outbox) is called by the worker, the ingress route and the services, never the other way round.",
      from: { path: "^src/pipeline/" },
      to: { path: "^src/(services|admin|http|workers|worker\\.ts|runtime\\.ts|app\\.ts)" },
    },
    {
      name: "observability-takes-what-it-needs",
      severity: "error",
      comment: "src/observability (logs, metrics, spans, the OpenTelemetry SDK) is used by every layer and imports none: what it needs comes as parameters.",
      from: { path: "^src/observability/" },
      to: { path: "^src/(?!observability/|lib/)" },
    },
    {
      name: "domain-is-pure",
      severity: "error",
      comment: "src/domain holds the event envelope and the reservation machine: no I/O, no other layer.",
      from: { path: "^src/domain/" },
      to: { path: "^src/(?!domain/|lib/)" },
    },
    {
      name: "db-does-not-reach-up",
      severity: "error",
      comment: "src/db serves every layer and depends on none above it (domain types and lib helpers only).",
      from: { path: "^src/db/" },
      to: { path: "^src/(http|services|admin|delivery|pipeline|providers|queues|workers|maintenance)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/generated/" },
    tsConfig: { fileName: "tsconfig.json" },
    // TypeScript 7 has no compiler API for dependency-cruiser to use: swc parses the sources.
    parser: "swc",
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"], extensions: [".ts", ".js"] },
  },
};
