// The baseline: Express answering 202 to a POST, reading the body, no storage.
import express from "express";

const app = express();
app.post("/webhooks/flovi", express.raw({ type: () => true, limit: 1024 * 1024 }), (_req, res) => {
  res.status(202).json({ id: "x", duplicate: false });
});
const port = Number(process.argv[2] ?? 0);
app.listen(port, "127.0.0.1", () => process.stdout.write("listening\n"));
