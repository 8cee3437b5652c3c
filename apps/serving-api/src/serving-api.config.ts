/**
 * The serving API's typed configuration: flags win over environment variables, and every problem
 * is reported at once. The status endpoint reads the capture, bronze and silver checkpoints under the names
 * those services use (the same variables), so one environment configures them all.
 *
 * `edge` is what the API needs to face the internet: bearer-token authentication (Microsoft Entra
 * ID), the per-client rate limit, CORS, HSTS, the proxy in front, request timeouts and the key that
 * signs continuation tokens. Its defaults suit a laptop (no authentication, loopback only); the
 * Azure deployment (infra/main.bicep) turns authentication on.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import {
  readLakeBackend,
  readOptionalBusBackend,
  readServingBackend,
  resolvePipelineHome,
  SettingsReader,
  type BusBackend,
  type LakeBackend,
  type ServingBackend,
} from '@pipeline/config';

export interface ServingApiConfig {
  home: string;
  lake: LakeBackend;
  serving: ServingBackend;
  /**
   * Where `/v1/status` counts dead letters: the embedded bus locally; on Azure only when the API is
   * given the Service Bus namespace (and Azure Service Bus Data Receiver on the queues, to peek).
   * `undefined`: the status says dead letters are not visible to the API.
   */
  deadLetters: BusBackend | undefined;
  specFile: string;
  host: string;
  port: number;
  /** Lake folder of the capture files (as bronze reads them). */
  rawPrefix: string;
  /** The capture checkpoint whose per-partition logs give each partition's owner. */
  captureCheckpoint: string;
  bronzeCheckpoint: string;
  silverCheckpoint: string;
  goldCheckpoint: string;
  /** The status page's history: how often the status is sampled, and how much is kept (ms). */
  history: { everyMs: number; keepMs: number };
  edge: EdgeSettings;
}

export interface ServingApiFlags {
  home?: string;
  spec?: string;
  port?: string;
  host?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LAKE_FOLDER = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const HOST = /^[A-Za-z0-9.:[\]-]+$/;

export function servingApiConfig(flags: ServingApiFlags, env: NodeJS.ProcessEnv = process.env): ServingApiConfig {
  const settings = new SettingsReader('serving-api', {
    ...env,
    PIPELINE_SPEC: flags.spec ?? env['PIPELINE_SPEC'],
    SERVING_PORT: flags.port ?? env['SERVING_PORT'],
    SERVING_HOST: flags.host ?? env['SERVING_HOST'],
  });
  const specFile = settings.string('PIPELINE_SPEC', { required: true, describe: 'the pipeline spec file (--spec)' });
  const port = settings.int('SERVING_PORT', { default: 8080, min: 0, max: 65_535 });
  // Loopback by default: exposing the API is a decision (a container sets 0.0.0.0).
  const host = settings.string('SERVING_HOST', { default: '127.0.0.1', pattern: HOST, describe: 'a host name or IP address to listen on (--host), e.g. 0.0.0.0' });
  const rawPrefix = settings.string('BRONZE_RAW_PREFIX', { default: 'raw', pattern: LAKE_FOLDER, describe: 'a lake folder like raw or capture/raw (no leading or trailing /)' });
  // Capture's own default: its checkpoint is named after the hub.
  const hubName = settings.string('PIPELINE_EVENT_HUB', { default: 'events', pattern: NAME, describe: 'an event hub name (letters, digits, . _ -)' });
  const captureCheckpoint = settings.string('CAPTURE_CHECKPOINT', { default: `capture-${hubName}`, pattern: NAME, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const bronzeCheckpoint = settings.string('BRONZE_CHECKPOINT', { default: 'bronze', pattern: NAME, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const silverCheckpoint = settings.string('SILVER_CHECKPOINT', { default: 'silver', pattern: NAME, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const goldCheckpoint = settings.string('GOLD_CHECKPOINT', { default: 'gold', pattern: NAME, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const everyMs = settings.duration('SERVING_STATUS_SAMPLE_INTERVAL', { default: 5_000, minMs: 100 });
  const keepMs = settings.duration('SERVING_STATUS_HISTORY', { default: 15 * 60_000, minMs: 1_000 });
  if (keepMs < everyMs) settings.problem('SERVING_STATUS_HISTORY', `at least SERVING_STATUS_SAMPLE_INTERVAL (${everyMs} ms)`, `${keepMs} ms`);
  const edge = readEdgeSettings(settings);
  const home = resolvePipelineHome(flags.home, env);
  const lake = readLakeBackend(settings, home);
  const serving = readServingBackend(settings, path.join(home, 'serving.sqlite'));
  const deadLetters = readOptionalBusBackend(settings, home);
  settings.done();
  return {
    home,
    lake,
    serving,
    deadLetters,
    specFile,
    host,
    port,
    rawPrefix,
    captureCheckpoint,
    bronzeCheckpoint,
    silverCheckpoint,
    goldCheckpoint,
    history: { everyMs, keepMs },
    edge,
  };
}

export interface EntraAuthSettings {
  /** Directory (tenant) id, or a verified domain of the tenant. */
  tenantId: string;
  /** Accepted `aud` values: the API's application (client) id and/or its application id URI. */
  audiences: string[];
  /** The app role a caller needs (the `roles` claim) to read `/v1/...`. */
  role: string;
  /** Where the tenant's OpenID metadata lives: `{authority}/{tenant}/v2.0/.well-known/openid-configuration`. */
  authority: string;
  /** Leeway on `exp` and `nbf`, in seconds. */
  clockToleranceSeconds: number;
}

export interface RateLimitSettings {
  /** Sustained requests per second per client. */
  perSecond: number;
  /** Requests a client may make at once after being idle. */
  burst: number;
}

export interface EdgeSettings {
  /** `undefined`: no authentication (local default). */
  auth: EntraAuthSettings | undefined;
  /** `undefined`: no rate limit. */
  rateLimit: RateLimitSettings | undefined;
  /** Origins a browser may call the API from; empty: no cross-origin access. */
  corsOrigins: string[];
  /** Send `Strict-Transport-Security` (only behind TLS). */
  hsts: boolean;
  /** Proxy hops in front whose `X-Forwarded-For` is trusted for the client address (0: none). */
  trustProxyHops: number;
  /** Most time to receive a whole request (slow clients are cut off), ms; 0: none. */
  requestTimeoutMs: number;
  /** Idle socket timeout, ms; 0: none. */
  connectionTimeoutMs: number;
  /** HMAC key of continuation tokens; `shared` false when it was made up for this process. */
  tokenKey: { key: Buffer; shared: boolean };
  /** One log line per request. */
  accessLog: boolean;
}

const TENANT = /^(?!(common|organizations|consumers)$)([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$/;
const AUDIENCE = /^[^\s,]+$/;
const ROLE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,119}$/;
const AUTHORITY = /^https?:\/\/[A-Za-z0-9.:[\]-]+(\/[A-Za-z0-9._-]+)*$/;
const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;
/** Short keys are guessable; 32 characters of a random string carry enough entropy. */
const MIN_TOKEN_KEY_LENGTH = 32;

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function readEdgeSettings(settings: SettingsReader): EdgeSettings {
  const mode = settings.oneOf('SERVING_AUTH', ['off', 'entra'] as const, { default: 'off' });
  const auth = mode === 'entra' ? readEntraAuth(settings) : undefined;

  const perSecond = settings.number('SERVING_RATE_LIMIT', { default: 100, min: 0 });
  const burst = settings.int('SERVING_RATE_BURST', { default: Math.max(1, Math.ceil(perSecond * 2)), min: 1, max: 1_000_000 });
  const rateLimit = perSecond > 0 ? { perSecond, burst } : undefined;

  const corsOrigins = list(settings.optionalString('SERVING_CORS_ORIGINS'));
  const badOrigins = corsOrigins.filter((origin) => !ORIGIN.test(origin));
  if (badOrigins.length > 0)
    settings.problem(
      'SERVING_CORS_ORIGINS',
      'a comma-separated list of origins like https://app.example.com (scheme, host, optional port; no path, no *)',
      JSON.stringify(badOrigins.join(',')),
    );

  const hsts = settings.bool('SERVING_HSTS', { default: false });
  const trustProxyHops = settings.int('SERVING_TRUST_PROXY', { default: 0, min: 0, max: 10 });
  const requestTimeoutMs = settings.duration('SERVING_REQUEST_TIMEOUT', { default: 30_000 });
  const connectionTimeoutMs = settings.duration('SERVING_CONNECTION_TIMEOUT', { default: 120_000 });
  const accessLog = settings.bool('SERVING_ACCESS_LOG', { default: true });

  const keyText = settings.string('SERVING_TOKEN_KEY', {
    secret: true,
    pattern: new RegExp(`^\\S{${MIN_TOKEN_KEY_LENGTH},}$`),
    describe: `a random string of at least ${MIN_TOKEN_KEY_LENGTH} characters without spaces (e.g. openssl rand -base64 48), the same on every replica`,
  });
  const tokenKey = keyText !== '' && keyText.length >= MIN_TOKEN_KEY_LENGTH ? { key: Buffer.from(keyText, 'utf8'), shared: true } : { key: randomBytes(32), shared: false };

  return { auth, rateLimit, corsOrigins, hsts, trustProxyHops, requestTimeoutMs, connectionTimeoutMs, tokenKey, accessLog };
}

function readEntraAuth(settings: SettingsReader): EntraAuthSettings {
  const tenantId = settings.string('SERVING_AUTH_TENANT_ID', {
    required: true,
    pattern: TENANT,
    describe: 'the directory (tenant) id, a GUID (or a verified domain such as contoso.onmicrosoft.com; not common/organizations), required with SERVING_AUTH=entra',
  });
  const audienceText = settings.string('SERVING_AUTH_AUDIENCE', {
    required: true,
    describe: "the API's application (client) id and/or application id URI (api://…), comma-separated, required with SERVING_AUTH=entra",
  });
  const audiences = list(audienceText);
  if (audienceText !== '' && (audiences.length === 0 || !audiences.every((a) => AUDIENCE.test(a))))
    settings.problem('SERVING_AUTH_AUDIENCE', 'comma-separated audiences without spaces, e.g. 00000000-0000-0000-0000-000000000000,api://pipeline', JSON.stringify(audienceText));
  const role = settings.string('SERVING_AUTH_ROLE', { default: 'Pipeline.Read', pattern: ROLE, describe: 'an app role value like Pipeline.Read' });
  const authority = settings
    .string('SERVING_AUTH_AUTHORITY', {
      default: 'https://login.microsoftonline.com',
      pattern: AUTHORITY,
      describe: 'the Entra authority URL, e.g. https://login.microsoftonline.com (no trailing /)',
    })
    .replace(/\/+$/, '');
  const clockToleranceMs = settings.duration('SERVING_AUTH_CLOCK_SKEW', { default: 60_000 });
  if (clockToleranceMs > 300_000) settings.problem('SERVING_AUTH_CLOCK_SKEW', 'a duration of at most 5m', JSON.stringify(`${clockToleranceMs}ms`));
  return { tenantId, audiences, role, authority, clockToleranceSeconds: Math.round(clockToleranceMs / 1000) };
}
