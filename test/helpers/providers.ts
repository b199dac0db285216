// The environment that points a test context at the fake MyFlyingBox and GreenFlow servers.
import { GREENFLOW_KEY, MFB_LOGIN, MFB_PASSWORD, type FakeGreenflow, type FakeMfb } from "../../scripts/lib/fakes/providers.js";

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
