/**
 * A local Serverless Framework plugin (loaded through tools/deploy/serverless-plugin.js): after the
 * framework compiles the kafka/msk events, it adds to every generated AWS::Lambda::EventSourceMapping
 * what v3 cannot express from params (provisioned mode, the error handling controls, the on-failure
 * destination) and the IAM statements they need. It finds the mappings by type, so any topic or
 * cluster name packages. It warns (without failing) about what the rules of mapping-rules.ts flag;
 * `npm run doctor` fails on them.
 */
import { QuotesSinkError } from '../../lib/errors';
import { parseDeployParams } from './params';
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

  /** Validates `custom.mapping`, patches the compiled template, and warns about rule violations. */
  apply(): void {
    const params = parseDeployParams(this.serverless.service.custom?.mapping);
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    applyMappingParams(template, params);
    for (const report of checkTemplate(template)) {
      for (const v of report.violations) {
        this.utils?.log.warning(`${report.logicalId}: [${v.rule}] ${v.message} (${v.source})`);
      }
    }
  }
}
