/**
 * One event source mapping per routed topic: the framework compiles one Kafka mapping per trigger
 * from serverless.yml (for the primary route); this adds, beside each, a copy for every other route
 * of the sink file, with the route's topic and consumer group (the naming rules of ./routes.ts).
 * Pure, over a template object.
 */
import { QuotesSinkError } from '../../lib/errors';
import type { RoutePlan } from '../../lib/routes/plan';
import { eventSourceMappings, type CfnTemplate } from './template';
import { routeMappings, type RouteMapping } from './routes';

/** Where a Kafka mapping keeps its consumer group: one of these, by source. */
const GROUP_CONFIGS = ['SelfManagedKafkaEventSourceConfig', 'AmazonManagedKafkaEventSourceConfig'] as const;

/** `order_lines` → `OrderLines` (logical IDs are alphanumeric). */
const pascal = (name: string) =>
  name
    .split('_')
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');

/** The consumer group a compiled mapping has, and the properties object that holds it. */
function groupOf(props: Record<string, unknown>): { config?: Record<string, unknown>; groupId: string } {
  for (const key of GROUP_CONFIGS) {
    const config = props[key] as Record<string, unknown> | undefined;
    if (config) return { config, groupId: typeof config.ConsumerGroupId === 'string' ? config.ConsumerGroupId : '' };
  }
  return { groupId: '' };
}

/**
 * The logical ID of a route's copy of the compiled mapping `baseId`:
 * `<Function>EventSourceMapping<Kafka|MSK>Route<Route>`, e.g. `SinkEventSourceMappingKafkaRouteOrders`.
 */
export function routeMappingId(baseId: string, props: Record<string, unknown>, route: string): string {
  const at = baseId.indexOf('EventSourceMapping');
  const prefix = at >= 0 ? baseId.slice(0, at + 'EventSourceMapping'.length) : baseId;
  return `${prefix}${props.SelfManagedEventSource ? 'Kafka' : 'MSK'}Route${pascal(route)}`;
}

/** Sets a mapping's topic and (when it has a group config) its consumer group. */
function setRoute(props: Record<string, unknown>, m: RouteMapping): void {
  props.Topics = [m.topic];
  const { config, groupId } = groupOf(props);
  if (config && groupId) config.ConsumerGroupId = m.groupId;
}

/**
 * Gives every route of `routes` its own mapping beside each compiled one (in place): the compiled
 * mapping stays the primary route's, a copy is added per other route. Returns each mapping's
 * Kafka destination topic, by logical ID, for applyMappingParams (./template.ts).
 */
export function addRouteMappings(
  template: CfnTemplate,
  routes: readonly Pick<RoutePlan, 'name' | 'topic'>[],
  destinationTopic: string,
): Record<string, string> {
  const destinations: Record<string, string> = {};
  for (const [baseId, props] of eventSourceMappings(template)) {
    const topic = Array.isArray(props.Topics) ? String(props.Topics[0]) : '';
    // A compiled mapping without a group gets none per route either (setRoute): AWS names one per mapping.
    const { groupId } = groupOf(props);
    for (const m of routeMappings(routes, { topic, groupId, destinationTopic })) {
      if (m.primary) {
        setRoute(props, m);
        destinations[baseId] = m.destinationTopic;
        continue;
      }
      const id = routeMappingId(baseId, props, m.route);
      if (template.Resources[id]) throw new QuotesSinkError(`route ${m.route}: the template has a ${id} already`);
      const copy = structuredClone(template.Resources[baseId]);
      setRoute(copy.Properties as Record<string, unknown>, m);
      template.Resources[id] = copy;
      destinations[id] = m.destinationTopic;
    }
  }
  return destinations;
}
