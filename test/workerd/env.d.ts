import type { EdgeBindings } from "../support/gateways.js";

declare global {
  namespace Cloudflare {
    interface Env extends EdgeBindings {
      [name: string]: string | undefined;
    }
  }
}
