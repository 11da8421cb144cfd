/**
 * The error of a sink file that cannot be used (light: the command lines' exit codes know it
 * without loading the sink file's parser and validators).
 */
import { QuotesSinkError } from '../../lib/errors';

/** One problem of a sink file. */
export interface SinkFileProblem {
  /** The route it is in, if any. */
  route?: string;
  /** Where in the file, as segments below its root. */
  path: (string | number)[];
  message: string;
}

/** `$.routes.quotes.postgres.columns['x-y']`: a path in the file, as the lines show it. */
export const jsonPath = (segments: readonly (string | number)[]): string =>
  `$${segments.map((s) => (typeof s === 'number' ? `[${s}]` : /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `['${s}']`)).join('')}`;

/** A sink file that cannot be used; {@link SinkFileError.problems} holds each problem, the message one line each. */
export class SinkFileError extends QuotesSinkError {
  constructor(
    /** The file, as the lines name it. */
    readonly file: string,
    readonly problems: readonly SinkFileProblem[],
  ) {
    const lines = problems.map(
      (p) => `  ${file}: ${p.route === undefined ? '' : `route ${p.route}: `}${jsonPath(p.path)}: ${p.message}`,
    );
    super(`invalid sink file (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
  }
}
