// The environment that points a test context at the fake MyFlyingBox and GreenFlow servers, and the setup
// of a test file that polls them.
import {
  GREENFLOW_KEY,
  MFB_LOGIN,
  MFB_PASSWORD,
  startFakeGreenflow,
  startFakeMfb,
  type FakeGreenflow,
  type FakeMfb,
} from "../../scripts/lib/fakes/providers.js";
import { createTestContext, type TestContext } from "./context.js";

export function fakeProviderEnv(mfb: FakeMfb, greenflow: FakeGreenflow, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MFB_API_BASE_URL: mfb.url,
    MFB_LOGIN,
    MFB_PASSWORD,
    GREENFLOW_API_BASE_URL: greenflow.url,
    GREENFLOW_API_KEY: GREENFLOW_KEY,
    PROVIDER_PAUSE_MS: "600000",
    ...extra,
  };
}

export interface ProviderContext {
  mfb: FakeMfb;
  greenflow: FakeGreenflow;
  /** A test context with a running worker, pointed at both fakes. */
  ctx: TestContext;
  /** The same environment with some settings changed, for a second context. */
  env(extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** Both fake providers and a context (with its worker) using them: one test file's setup. */
export async function startProviderContext(settings: Record<string, string>): Promise<ProviderContext> {
  const mfb = await startFakeMfb();
  const greenflow = await startFakeGreenflow();
  const env = (extra: Record<string, string> = {}) => fakeProviderEnv(mfb, greenflow, { ...settings, ...extra });
  const ctx = await createTestContext(env());
  await ctx.startWorker();
  return {
    mfb,
    greenflow,
    ctx,
    env,
    async close() {
      await ctx.close();
      await mfb.close();
      await greenflow.close();
    },
  };
}
