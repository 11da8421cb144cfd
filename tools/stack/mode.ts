/**
 * Which services `up` uses: yours, Docker Compose's, or native processes. A pure decision over what
 * `up` found (settings, reachability, the mode file, Docker), so each case is unit-tested.
 */
import { DEFAULT_KAFKA_BROKERS, DEFAULT_MONGO_URL, DEFAULT_POSTGRES_URL, redactUrl } from '../../lib/config';

export type Mode = 'external' | 'docker' | 'native';

/** The connection settings `up` writes to the stack's env file. */
export interface StackEnv {
  KAFKA_BROKERS: string;
  POSTGRES_URL: string;
  MONGO_URL: string;
}
export type StackEnvKey = keyof StackEnv;
export const STACK_ENV_KEYS: readonly StackEnvKey[] = ['KAFKA_BROKERS', 'POSTGRES_URL', 'MONGO_URL'];

/** The three services as the code sees them, whatever serves them. */
export type Endpoint = 'kafka' | 'postgres' | 'mongo';
export const ENDPOINT_OF: Readonly<Record<StackEnvKey, Endpoint>> = {
  KAFKA_BROKERS: 'kafka',
  POSTGRES_URL: 'postgres',
  MONGO_URL: 'mongo',
};

/** Where a setting was found, in decreasing precedence. */
export type SettingSource = 'environment' | '.env';
export type GivenSettings = Partial<Record<StackEnvKey, { value: string; source: SettingSource }>>;

/** What `up` found before choosing. */
export interface ModeInputs {
  /** KAFKA_BROKERS, POSTGRES_URL, MONGO_URL from the environment, else from `.env`. */
  given: GivenSettings;
  /** What the last `up` recorded: the mode file and the env file. */
  saved: { mode?: Mode; env?: StackEnv };
  /** The services of {@link externalCandidate} that did not answer (empty when there is none). */
  unreachable: Endpoint[];
  /** Whether a Docker engine answers (asked only when the answer matters). */
  docker: () => boolean;
  /** The stack's env file as messages show it (QUOTES_SINK_STACK_DIR moves it). */
  envFile: string;
}

export type ModeChoice =
  { ok: true; mode: Mode; reason: string; env?: StackEnv } | { ok: false; unreachable: Endpoint[]; reason: string };

/** Services `up` would use as they are (yours): given settings, else an external stack kept from before. */
export interface ExternalCandidate {
  env: StackEnv;
  /** Where the settings come from, for messages: 'the environment', '.env', or the env file. */
  from: string;
  kept: boolean;
}

const ALL_THREE = 'KAFKA_BROKERS, POSTGRES_URL and MONGO_URL';

const sameEnv = (a: StackEnv, b: StackEnv) => STACK_ENV_KEYS.every((k) => a[k] === b[k]);

/** The given settings when all three are set, with where they come from. */
function completeGiven(given: GivenSettings): { env: StackEnv; from: string } | undefined {
  const [k, p, m] = STACK_ENV_KEYS.map((key) => given[key]);
  if (!k || !p || !m) return undefined;
  const sources = [...new Set([k.source, p.source, m.source])].map((s) => (s === '.env' ? '.env' : 'the environment'));
  return { env: { KAFKA_BROKERS: k.value, POSTGRES_URL: p.value, MONGO_URL: m.value }, from: sources.join(' and ') };
}

/**
 * The settings `up` should try as your own services. Given settings that are just what this
 * stack's own native or docker `up` wrote (a process that loaded the env file) do not count.
 */
export function externalCandidate(
  given: GivenSettings,
  saved: ModeInputs['saved'],
  envFile: string,
): ExternalCandidate | undefined {
  const asked = completeGiven(given);
  const ownStack = saved.mode === 'native' || saved.mode === 'docker';
  if (asked && !(ownStack && saved.env && sameEnv(asked.env, saved.env))) return { ...asked, kept: false };
  if (saved.mode === 'external' && saved.env) return { env: saved.env, from: envFile, kept: true };
  return undefined;
}

/** Why no settings of yours are used, when some are given. */
function givenNote(given: GivenSettings): string {
  const set = STACK_ENV_KEYS.filter((k) => given[k]);
  if (set.length === 0) return `${ALL_THREE} are not set`;
  if (set.length === STACK_ENV_KEYS.length) return `${ALL_THREE} are this stack's own`;
  const where = [...new Set(set.map((k) => given[k]?.source))].join(' and ');
  return `only ${set.join(', ')} set (${where}): your own services are used when all three are`;
}

const isComposeDefaults = (env: StackEnv) =>
  sameEnv(env, {
    KAFKA_BROKERS: DEFAULT_KAFKA_BROKERS,
    POSTGRES_URL: DEFAULT_POSTGRES_URL,
    MONGO_URL: DEFAULT_MONGO_URL,
  });

function describeUnreachable(env: StackEnv, unreachable: Endpoint[]): string {
  const named = STACK_ENV_KEYS.filter((k) => unreachable.includes(ENDPOINT_OF[k]));
  const list = named.map((k) => `${ENDPOINT_OF[k]} (${redactUrl(env[k])})`).join(', ');
  return `${list} ${named.length === 1 ? 'does' : 'do'} not answer`;
}

function chooseExternal(c: ExternalCandidate, i: ModeInputs): ModeChoice {
  if (i.unreachable.length === 0) {
    const reason = c.kept
      ? `kept from an earlier up: ${c.from} names your services, and all three answer`
      : `${ALL_THREE} are set (${c.from}) and all three answer`;
    return { ok: true, mode: 'external', env: c.env, reason };
  }
  const down = describeUnreachable(c.env, i.unreachable);
  if (c.kept) {
    const reason = `${down}; ${c.from} keeps these services from an earlier up: start them, or run \`npm run stack -- down\` to forget them`;
    return { ok: false, unreachable: i.unreachable, reason };
  }
  // A copy of .env.example names the compose services: Docker can bring exactly those up.
  if (isComposeDefaults(c.env) && i.docker()) {
    return { ok: true, mode: 'docker', reason: `${ALL_THREE} (${c.from}) are the docker-compose defaults` };
  }
  const reason = `${down} (set in ${c.from}): start them, or unset ${ALL_THREE} to let up start a stack`;
  return { ok: false, unreachable: i.unreachable, reason };
}

/**
 * Chooses the stack's mode, with a one-line reason. In order: your services (set in the
 * environment or `.env`, or kept in an external env file) if all three answer, failing rather than
 * starting another stack if they do not; then the mode of the last `up` (native stays native);
 * then Docker if an engine answers; else native.
 */
export function chooseMode(i: ModeInputs): ModeChoice {
  const candidate = externalCandidate(i.given, i.saved, i.envFile);
  if (candidate) return chooseExternal(candidate, i);
  const note = givenNote(i.given);
  if (i.saved.mode === 'native') return { ok: true, mode: 'native', reason: `kept from an earlier up; ${note}` };
  if (i.docker()) {
    const why = i.saved.mode === 'docker' ? 'kept from an earlier up' : 'a Docker engine answers';
    return { ok: true, mode: 'docker', reason: `${why}; ${note}` };
  }
  const why =
    i.saved.mode === 'docker'
      ? 'docker mode was used before but no Docker engine answers now'
      : 'no Docker engine answers';
  return { ok: true, mode: 'native', reason: `${why}; ${note}` };
}
