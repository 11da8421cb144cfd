/**
 * A local Serverless Framework plugin (loaded through tools/deploy/serverless-plugin.js): after the
 * framework compiles the kafka/msk events, it adds to every generated AWS::Lambda::EventSourceMapping
 * what v3 cannot express from params (provisioned mode, the error handling controls, the on-failure
 * destination) and the IAM statements they need. It finds the mappings by type, so any topic or
 * cluster name packages. Each route of the sink file gets its own mapping (./expand.ts, naming
 * rules in ./routes.ts): the compiled one is the primary route's. It warns (without failing) about what the rules of mapping-rules.ts flag;
 * `npm run doctor` fails on them.
 */
import { QuotesSinkError } from '../../lib/errors';
import { loadSinkFile } from '../routes/load';
import { addRouteMappings } from './expand';
import { parseDeployParams } from './params';
import { sinkFilePath } from './routes';
import { applyMappingParams, checkTemplate, type CfnTemplate } from './template';

/** The parts of the framework's `serverless` object this plugin uses. */
interface ServerlessLike {
  /** The framework's error class: errors of this type print as one message, without a stack. */
  classes?: { Error: new (message: string) => Error };
  service: {
    custom?: Record<string, unknown>;
    provider: { compiledCloudFormationTemplate: CfnTemplate };
  };
}

/** The framework's logger, passed to plugins as the third constructor argument (v3). */
interface PluginUtils {
  log: { warning: (message: string) => void };
}

export class MappingSettingsPlugin {
  readonly hooks: Record<string, () => void>;

  constructor(
    private readonly serverless: ServerlessLike,
    _options: unknown,
    private readonly utils?: PluginUtils,
  ) {
    // After the framework's own compileEvents hooks, which create the mappings.
    this.hooks = { 'after:package:compileEvents': () => this.run() };
  }

  /** {@link apply}, with our errors shown as the framework shows its own (a message, no stack). */
  private run(): void {
    try {
      this.apply();
    } catch (e) {
      const FrameworkError = this.serverless.classes?.Error;
      throw e instanceof QuotesSinkError && FrameworkError ? new FrameworkError(e.message) : e;
    }
  }

  /**
   * Validates `custom.mapping`, adds a mapping per route of the sink file (SINK_FILE, default
   * sink.yaml), patches them all, and warns about rule violations.
   */
  apply(sinkFile = sinkFilePath()): void {
    const params = parseDeployParams(this.serverless.service.custom?.mapping);
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const { routes } = loadSinkFile(sinkFile);
    applyMappingParams(template, params, addRouteMappings(template, routes, params.destinationTopic));
    for (const report of checkTemplate(template)) {
      for (const v of report.violations) {
        this.utils?.log.warning(`${report.logicalId}: [${v.rule}] ${v.message} (${v.source})`);
      }
    }
  }
}
