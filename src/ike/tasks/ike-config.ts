/**
 * Configuration payload (RFC 7296 §2.19, §3.15): CP(CFG_REQUEST) in IKE_AUTH and the gateway's
 * CP(CFG_REPLY) (virtual IPs, DNS servers, domains, subnets), capped (src/ike/limits.ts).
 */
import { PayloadType } from '../constants.js';
import type { CpPayload, Payload } from '../codec/index.js';
import { buildConfigRequest, parseConfigReply } from '../config-payload.js';
import type { ConfigReply } from '../config-payload.js';
import { capConfigReply } from '../limits.js';
import type { IkeContext } from '../context.js';

/**
 * Rides in IKE_AUTH (strongSwan's ike_config does the same): it adds its payload to the IKE_AUTH
 * request and reads the reply from the last IKE_AUTH response.
 */
export class IkeConfig {
  private readonly c: IkeContext;

  constructor(c: IkeContext) {
    this.c = c;
  }

  /** CP(CFG_REQUEST) for what the configuration asks (virtual IPv4/IPv6, DNS), if anything. */
  buildRequest(): Payload[] {
    const cp: CpPayload = buildConfigRequest(this.c.cfg.request);
    return cp.attributes.length > 0 ? [cp] : [];
  }

  /** The gateway's CP(CFG_REPLY), capped; an empty configuration without one. */
  processResponse(inner: Payload[]): ConfigReply {
    const cp = inner.find((p): p is CpPayload => p.type === PayloadType.CP);
    return cp
      ? this.cappedConfig(cp)
      : { dns4: [], dns6: [], domains: [], subnets: [], unknown: [] };
  }

  /** The CP reply with DNS servers, domains and subnets capped (8 per family, 16, 32). */
  private cappedConfig(cp: CpPayload): ConfigReply {
    const { config, warnings } = capConfigReply(parseConfigReply(cp));
    for (const w of warnings) this.c.warn(`gateway's configuration: ${w}`);
    return config;
  }
}
