/** A command line's `--route NAME`: the sink file's route of that name, as the function runs it. */
import type { Config } from '../../lib/config';
import { routeTargets, type RouteTarget } from '../../lib/routes/default';
import { sinkFilePath } from '../deploy/routes';
import { UsageError } from './errors';

/**
 * The route `name` of the sink file (SINK_FILE): its topic, table and collection as the function
 * uses them (the quotes route's from KAFKA_TOPIC and the store settings). A name the sink file
 * does not have is a usage error naming the routes it has.
 */
export function routeFlag(config: Config, name: string): RouteTarget {
  const targets = routeTargets(config);
  const target = targets.find((t) => t.name === name);
  if (target) return target;
  const known = targets.map((t) => t.name).join(', ');
  throw new UsageError(`--route ${name}: the sink file ${sinkFilePath()} has no such route (it has ${known})`);
}
