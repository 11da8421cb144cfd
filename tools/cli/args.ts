/**
 * One argument parser for every command: node's `parseArgs` (strict) for the syntax, then a zod
 * schema (`.strict()`) for the values, with help text generated from the same declarations.
 * Every mistake becomes a {@link UsageError} of one line naming the flag; `--help` becomes a
 * {@link HelpRequested}. `runMain` (tools/cli/main.ts) turns those into exit codes 2 and 0.
 *
 * A command declares its flags and positionals for the syntax and help, and a zod object over the
 * same keys for the values (flag values arrive as strings; see {@link intFlag} and friends):
 *
 * ```ts
 * const spec = defineCommand({
 *   command: 'npm run record --',
 *   summary: 'Writes the next batch as a Lambda event fixture.',
 *   flags: { out: { type: 'string', value: 'FILE', help: 'where to write (required)' } },
 *   schema: z.object({ out: z.string() }).strict(),
 * });
 * const options = parseCommand(spec, argv); // { out: string }
 * ```
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { redactUrl } from '../../lib/config';
import { TOPIC_NAME } from '../../lib/event/coordinates';
import { LAMBDA_TOPIC_NAME } from '../deploy/mapping-rules';
import { HelpRequested, UsageError } from './errors';

export { HelpRequested, UsageError } from './errors';

/** A flag: a switch (`boolean`) or a flag that takes a value (`string`). */
export interface FlagSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in the help, e.g. `N` (flags that take a value). */
  value?: string;
  /** A one-letter alias. */
  short?: string;
  /** Whether it may be given more than once: its values then arrive as an array, in order. */
  multiple?: boolean;
  /** One line for the help, with the default if there is one. */
  help: string;
}

/** A positional argument, validated by the schema under {@link PositionalSpec.key}. */
export interface PositionalSpec {
  key: string;
  /** As the help and errors show it, e.g. `NAME`. */
  name: string;
  help: string;
  optional?: boolean;
}

/** A command (or a subcommand): what it takes and how its values are checked. */
export interface CommandSpec<T> {
  /** How it is run, e.g. `npm run produce --` or `npm run topics -- create`. */
  command: string;
  /** What it does, for the help. */
  summary: string;
  flags: Record<string, FlagSpec>;
  positionals?: PositionalSpec[];
  /** The values of the flags and positionals, by key; a `.strict()` object. */
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
  /** Extra paragraphs at the end of the help. */
  notes?: string[];
}

/** A command with subcommands, e.g. `dead-letters list | replay`. */
export interface CommandGroup<M extends Record<string, CommandSpec<unknown>>> {
  command: string;
  summary: string;
  subcommands: M;
  notes?: string[];
}

/** Declares a command; only there to infer `T` from the schema. */
export const defineCommand = <T>(spec: CommandSpec<T>): CommandSpec<T> => spec;

/** Declares a command with subcommands. */
export const defineGroup = <M extends Record<string, CommandSpec<unknown>>>(group: CommandGroup<M>): CommandGroup<M> =>
  group;

const HELP_FLAG: FlagSpec = { type: 'boolean', short: 'h', help: 'show this help' };

// Flag values ------------------------------------------------------------------------------------

const WHOLE = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A number as the help and errors show it: 10,000. */
const shown = (n: number) => n.toLocaleString('en-US');

/** A whole number from `min` to `max` (no limit if left out), given as a string on the command line. */
export const intFlag = (min: number, max?: number) =>
  z
    .string()
    .refine((s) => WHOLE.test(s.trim()) && Number(s) >= min && Number(s) <= (max ?? Number.MAX_SAFE_INTEGER), {
      message: `takes a whole number ${max === undefined ? `of at least ${shown(min)}` : `from ${shown(min)} to ${shown(max)}`}`,
    })
    .transform(Number);

/** A number from `min` to `max` (fractions allowed); `exclusiveMin` excludes `min` itself. */
export const numberFlag = (min: number, max: number, exclusiveMin = false) =>
  z
    .string()
    .refine((s) => DECIMAL.test(s.trim()) && (exclusiveMin ? Number(s) > min : Number(s) >= min) && Number(s) <= max, {
      message: `takes a number ${exclusiveMin ? 'above' : 'from'} ${shown(min)} ${exclusiveMin ? 'up ' : ''}to ${shown(max)}`,
    })
    .transform(Number);

/** A Kafka topic name ({@link TOPIC_NAME}). */
export const topicFlag = () => z.string().regex(TOPIC_NAME, 'takes a topic name: letters, digits, ".", "_", "-"');

/** A Lambda on-failure destination on Kafka: `kafka://TOPIC`, the topic as the Lambda API takes it. */
export const kafkaDestinationFlag = () =>
  z.string().regex(new RegExp(`^kafka://${LAMBDA_TOPIC_NAME.source.slice(1)}`), 'takes kafka://TOPIC');

/** One of `values`. */
export const enumFlag = <V extends string>(values: readonly [V, ...V[]]) =>
  z.enum(values as [V, ...V[]], { errorMap: () => ({ message: `takes one of ${values.join(', ')}` }) });

/**
 * A check that two flags are not given together, for `schema.superRefine`: the issue names the
 * first and says which other one it conflicts with.
 */
export function exclusive<T extends Record<string, unknown>>(...keys: (keyof T & string)[]) {
  return (v: T, ctx: z.RefinementCtx): void => {
    const given = keys.filter((k) => v[k] !== undefined && v[k] !== false);
    if (given.length > 1) {
      const [first, ...rest] = given;
      const message = `--${first} cannot be combined with ${rest.map((k) => `--${k}`).join(', ')}`;
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [first], message, params: { whole: true } });
    }
  };
}

/** A check that `key` is given only together with `needs`, for `schema.superRefine`. */
export function requires<T extends Record<string, unknown>>(key: keyof T & string, needs: keyof T & string) {
  return (v: T, ctx: z.RefinementCtx): void => {
    if (v[key] !== undefined && v[key] !== false && (v[needs] === undefined || v[needs] === false)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [key],
        message: `--${key} only applies with --${needs}`,
        params: { whole: true },
      });
    }
  };
}

// Help ---------------------------------------------------------------------------------------------

const flagLabel = (name: string, f: FlagSpec) =>
  `--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}${f.short ? `, -${f.short}` : ''}`;

/** Aligned two-column lines. */
function columns(rows: [string, string][], indent = '  '): string[] {
  const width = Math.min(32, Math.max(...rows.map(([a]) => a.length)) + 2);
  return rows.map(([a, b]) =>
    a.length + 2 > width ? `${indent}${a}\n${indent}${''.padEnd(width)}${b}` : `${indent}${a.padEnd(width)}${b}`,
  );
}

/** The help text of a command: usage, summary, positionals, flags and notes. */
export function helpText<T>(spec: CommandSpec<T>): string {
  const positionals = spec.positionals ?? [];
  const args = positionals.map((p) => (p.optional ? `[${p.name}]` : p.name));
  const flags = Object.keys(spec.flags).length ? ['[options]'] : [];
  const lines = [`usage: ${[spec.command, ...args, ...flags].join(' ')}`, '', spec.summary];
  if (positionals.length) lines.push('', 'arguments:', ...columns(positionals.map((p) => [p.name, p.help])));
  const all = { ...spec.flags, help: HELP_FLAG };
  const flagHelp = (f: FlagSpec) => (f.multiple ? `${f.help} (repeatable)` : f.help);
  lines.push('', 'options:', ...columns(Object.entries(all).map(([n, f]) => [flagLabel(n, f), flagHelp(f)])));
  for (const note of spec.notes ?? []) lines.push('', note);
  return `${lines.join('\n')}\n`;
}

/** The help text of a command group: its subcommands with their summaries. */
export function groupHelpText<M extends Record<string, CommandSpec<unknown>>>(g: CommandGroup<M>): string {
  const subs = Object.entries(g.subcommands).map(([name, s]): [string, string] => [name, s.summary.split('\n')[0]]);
  const lines = [`usage: ${g.command} ${Object.keys(g.subcommands).join(' | ')} [options]`, '', g.summary];
  lines.push(
    '',
    'commands:',
    ...columns(subs),
    '',
    'options:',
    ...columns([[flagLabel('help', HELP_FLAG), HELP_FLAG.help]]),
  );
  lines.push('', `${g.command} COMMAND --help shows a command's options.`);
  for (const note of g.notes ?? []) lines.push('', note);
  return `${lines.join('\n')}\n`;
}

// Parsing ------------------------------------------------------------------------------------------

/** What is wrong with a flag's value, from node's message. */
function valueProblem(message: string, option: string): string {
  if (/does not take an argument/.test(message)) return 'takes no value';
  if (/ambiguous/.test(message)) return `needs a value (write ${option}=VALUE for one starting with "-")`;
  return 'needs a value';
}

/** node's parseArgs errors, as one line naming the flag. */
function syntaxError(e: unknown): UsageError {
  const message = (e as { message?: string }).message ?? String(e);
  const option = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
  switch ((e as { code?: string }).code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option ${option}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(`${option} ${valueProblem(message, option)}`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument "${/Unexpected argument '([^']*)'/.exec(message)?.[1] ?? ''}"`);
    default:
      return new UsageError(message);
  }
}

/** One zod issue as one line: `--limit takes a whole number from 1 to 10000 (got "abc")`. */
function issueLine(issue: z.ZodIssue, labels: Map<string, string>, input: Record<string, unknown>): string {
  if (issue.code === z.ZodIssueCode.unrecognized_keys) return `unknown option --${issue.keys[0]}`;
  const key = String(issue.path[0] ?? '');
  const label = labels.get(key) ?? `--${key}`;
  if ((issue as { params?: { whole?: boolean } }).params?.whole) return issue.message;
  // A repeatable flag's issue is at [key, index]: show the value at fault.
  const given = input[key];
  const value = Array.isArray(given) && typeof issue.path[1] === 'number' ? given[issue.path[1]] : given;
  if (value === undefined) return `${label} is required`;
  const got = typeof value === 'string' ? ` (got ${JSON.stringify(redactUrl(value))})` : '';
  return `${label} ${issue.message}${got}`;
}

/** Node's parseArgs options for the declared flags, plus `--help`. */
function nodeOptions(flags: Record<string, FlagSpec>): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, f] of Object.entries({ ...flags, help: HELP_FLAG })) {
    out[name] = { type: f.type, ...(f.short && { short: f.short }), ...(f.multiple && { multiple: true }) };
  }
  return out;
}

/** The flags and positionals of `argv`, by key, before validation; throws on a syntax error. */
function tokens<T>(spec: CommandSpec<T>, argv: string[]): Record<string, unknown> {
  const declared = spec.positionals ?? [];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: nodeOptions(spec.flags), strict: true, allowPositionals: true });
  } catch (e) {
    throw syntaxError(e);
  }
  if (parsed.values.help) throw new HelpRequested(helpText(spec));
  const extra = parsed.positionals[declared.length];
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const input: Record<string, unknown> = { ...parsed.values };
  declared.forEach((p, i) => {
    if (parsed.positionals[i] !== undefined) input[p.key] = parsed.positionals[i];
  });
  return input;
}

/**
 * Parses `argv` for `spec`: the typed values, or a {@link UsageError} of one line naming the first
 * wrong flag (unknown, missing value, bad value, conflict), or {@link HelpRequested} for `--help`.
 */
export function parseCommand<T>(spec: CommandSpec<T>, argv: string[]): T {
  const input = tokens(spec, argv);
  const result = spec.schema.safeParse(input);
  if (result.success) return result.data;
  const labels = new Map((spec.positionals ?? []).map((p) => [p.key, p.name]));
  throw new UsageError(issueLine(result.error.issues[0], labels, input));
}

/** The result of {@link parseSubcommand}: the subcommand's name and its typed values. */
export type ParsedSubcommand<M extends Record<string, CommandSpec<unknown>>> = {
  [K in keyof M & string]: { name: K; options: M[K] extends CommandSpec<infer T> ? T : never };
}[keyof M & string];

/** Parses `COMMAND [args]` for a group: the subcommand and its values (see {@link parseCommand}). */
export function parseSubcommand<M extends Record<string, CommandSpec<unknown>>>(
  group: CommandGroup<M>,
  argv: string[],
): ParsedSubcommand<M> {
  const [name, ...rest] = argv;
  const names = Object.keys(group.subcommands);
  if (name === undefined || name === '--help' || name === '-h') {
    if (name === undefined) throw new UsageError(`missing command: ${names.join(' | ')}`);
    throw new HelpRequested(groupHelpText(group));
  }
  if (!Object.hasOwn(group.subcommands, name)) {
    const what = name.startsWith('-') ? `missing command before ${name}` : `unknown command "${name}"`;
    throw new UsageError(`${what}: ${names.join(' | ')}`);
  }
  const options = parseCommand(group.subcommands[name], rest);
  return { name, options } as ParsedSubcommand<M>;
}
