/**
 * One event source mapping per routed topic (tools/deploy/routes.ts, expand.ts): the naming rules,
 * the plugin's copies of the compiled mappings with their destinations and IAM, the rules across
 * mappings, and the doctor's checks of the routes (one test per rule).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig, PROJECT_ROOT } from '../../lib/config';
import type { RoutePlan } from '../../lib/routes/plan';
import { MappingSettingsPlugin } from '../../tools/deploy/esm-plugin';
import { addRouteMappings, routeMappingId } from '../../tools/deploy/expand';
import { parseDeployParams } from '../../tools/deploy/params';
import { checkRoutes, routeMappings, sinkFilePath, type RouteCheckConfig } from '../../tools/deploy/routes';
import { applyMappingParams, checkTemplate, eventSourceMappings, type CfnTemplate } from '../../tools/deploy/template';
import { loadSinkFile } from '../../tools/routes/load';

const TWO_ROUTES = path.join(PROJECT_ROOT, 'examples', 'orders', 'sink.yaml');
const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/quotes-cluster/5c6a0f1e-2';

/** A route as the loader plans it (only what the mappings and checks read). */
const route = (name: string, topic: string, table = name, collection = name): RoutePlan => ({
  name,
  topic,
  mode: 'append',
  schema: { type: 'object', properties: {} },
  postgres: { table, columns: [] },
  mongo: { collection, indexes: [] },
});
const quotes = route('quotes', 'quotes');
const orders = route('orders', 'orders');
const config = (change: Partial<RouteCheckConfig> = {}): RouteCheckConfig => ({ ...loadConfig({}), ...change });

/** The framework's compiled mappings of trigger both, under the logical IDs it gives them. */
function compiled(): CfnTemplate {
  const role = { PolicyDocument: { Statement: [] as unknown[] } };
  return {
    Resources: {
      IamRoleLambdaExecution: { Type: 'AWS::IAM::Role', Properties: { Policies: [role] } },
      SinkEventSourceMappingKafkaQuotes: {
        Type: 'AWS::Lambda::EventSourceMapping',
        DependsOn: ['IamRoleLambdaExecution'],
        Properties: {
          SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b:9096'] } },
          Topics: ['quotes'],
          StartingPosition: 'TRIM_HORIZON',
          SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'quotes-sink-prod' },
        },
      },
      SinkEventSourceMappingMSKQuotesclusterQuotes: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          EventSourceArn: CLUSTER,
          Topics: ['quotes'],
          StartingPosition: 'TRIM_HORIZON',
          AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'quotes-sink-prod' },
          SourceAccessConfigurations: [
            { Type: 'SASL_SCRAM_512_AUTH', URI: 'arn:aws:secretsmanager:x:1:secret:AmazonMSK_q' },
          ],
        },
      },
    },
  };
}

const params = parseDeployParams({
  scaling: 'provisioned',
  minimumPollers: 1,
  maximumPollers: 10,
  maximumRetryAttempts: 10,
  maximumRecordAgeInSeconds: -1,
  bisectBatchOnFunctionError: true,
  reportBatchItemFailures: true,
  destination: 'kafka',
  destinationTopic: 'quotes-failed',
  destinationBucketArn: 'arn:aws:s3:::b',
  destinationQueueArn: 'arn:aws:sqs:eu-west-1:1:q',
  secretsKmsKeyArn: 'arn:aws:kms:eu-west-1:1:key/k',
});

describe('the naming rules', () => {
  test('the quotes route keeps the configured topic, group and destination; another gets <group>-<route> and <topic>-failed', () => {
    const primary = { topic: 'prices', groupId: 'quotes-sink-prod', destinationTopic: 'dlq' };
    assert.deepEqual(routeMappings([orders, quotes], primary), [
      {
        route: 'orders',
        primary: false,
        topic: 'orders',
        groupId: 'quotes-sink-prod-orders',
        destinationTopic: 'orders-failed',
      },
      { route: 'quotes', primary: true, topic: 'prices', groupId: 'quotes-sink-prod', destinationTopic: 'dlq' },
    ]);
    // Without a quotes route the first route is the primary one, on its own topic.
    assert.deepEqual(routeMappings([orders], primary), [
      { route: 'orders', primary: true, topic: 'orders', groupId: 'quotes-sink-prod', destinationTopic: 'dlq' },
    ]);
  });

  test('SINK_FILE is a path from the project root; unset, the default sink.yaml', () => {
    assert.equal(sinkFilePath({}), path.join(PROJECT_ROOT, 'sink.yaml'));
    assert.equal(sinkFilePath({ SINK_FILE: 'examples/orders/sink.yaml' }), TWO_ROUTES);
    assert.equal(sinkFilePath({ SINK_FILE: '/x/s.yaml' }), '/x/s.yaml');
  });
});

describe('the plugin: one mapping per route', () => {
  test('a copy of each compiled mapping per other route, with its topic, group, destination and IAM', () => {
    const t = compiled();
    applyMappingParams(t, params, addRouteMappings(t, [quotes, orders], params.destinationTopic));
    const byId = Object.fromEntries(eventSourceMappings(t));
    assert.deepEqual(Object.keys(byId), [
      'SinkEventSourceMappingKafkaQuotes',
      'SinkEventSourceMappingMSKQuotesclusterQuotes',
      'SinkEventSourceMappingKafkaRouteOrders',
      'SinkEventSourceMappingMSKRouteOrders',
    ]);
    const kafka = byId.SinkEventSourceMappingKafkaRouteOrders;
    assert.deepEqual(kafka.Topics, ['orders']);
    assert.deepEqual(kafka.SelfManagedKafkaEventSourceConfig, { ConsumerGroupId: 'quotes-sink-prod-orders' });
    assert.deepEqual(kafka.DestinationConfig, { OnFailure: { Destination: 'kafka://orders-failed' } });
    assert.deepEqual(t.Resources.SinkEventSourceMappingKafkaRouteOrders.DependsOn, ['IamRoleLambdaExecution']);
    const mskOrders = byId.SinkEventSourceMappingMSKRouteOrders;
    assert.deepEqual(mskOrders.AmazonManagedKafkaEventSourceConfig, { ConsumerGroupId: 'quotes-sink-prod-orders' });
    // The compiled ones stay the quotes route's, untouched but for the params.
    assert.deepEqual(byId.SinkEventSourceMappingKafkaQuotes.Topics, ['quotes']);
    assert.deepEqual(byId.SinkEventSourceMappingKafkaQuotes.DestinationConfig, {
      OnFailure: { Destination: 'kafka://quotes-failed' },
    });
    const statements = (
      t.Resources.IamRoleLambdaExecution.Properties as {
        Policies: { PolicyDocument: { Statement: { Sid?: string; Resource: unknown }[] } }[];
      }
    ).Policies[0].PolicyDocument.Statement;
    const write = statements.find((s) => s.Sid === 'KafkaDestination');
    const topicArn = (topic: string) => `${CLUSTER.replace(':cluster/', ':topic/')}/${topic}`;
    assert.deepEqual(write?.Resource, [topicArn('quotes-failed'), topicArn('orders-failed')]);
    assert.deepEqual(
      checkTemplate(t).flatMap((m) => m.violations),
      [],
    );
  });

  test("the plugin reads the sink file it is given (SINK_FILE) and patches every route's mapping", () => {
    const t = compiled();
    const custom = { mapping: { ...params, minimumPollers: 2 } };
    const serverless = { service: { custom, provider: { compiledCloudFormationTemplate: t } } };
    new MappingSettingsPlugin(serverless, {}).apply(TWO_ROUTES);
    const mappings = eventSourceMappings(t);
    assert.equal(mappings.length, 4);
    for (const [id, props] of mappings)
      assert.equal((props.ProvisionedPollerConfig as { MinimumPollers: number }).MinimumPollers, 2, id);
  });

  test('the default sink file adds nothing; logical IDs of routes are PascalCase', () => {
    const t = compiled();
    addRouteMappings(t, loadSinkFile(path.join(PROJECT_ROOT, 'sink.yaml')).routes, 'quotes-failed');
    assert.equal(eventSourceMappings(t).length, 2);
    assert.equal(
      routeMappingId('SinkEventSourceMappingKafkaQuotes', { SelfManagedEventSource: {} }, 'order_lines'),
      'SinkEventSourceMappingKafkaRouteOrderLines',
    );
  });
});

describe('rules across mappings (the doctor on a packaged template)', () => {
  test('topic-routed-twice: two mappings of one cluster on one topic, in one line', () => {
    const t = compiled();
    addRouteMappings(t, [quotes, route('orders', 'quotes', 'o', 'o')], 'quotes-failed');
    const lines = checkTemplate(t).flatMap((m) => m.violations.map((v) => `${m.logicalId}: [${v.rule}] ${v.message}`));
    assert.deepEqual(lines, [
      'SinkEventSourceMappingKafkaRouteOrders: [topic-routed-twice] topic "quotes" is read by SinkEventSourceMappingKafkaQuotes already: one mapping (one route) per topic',
      'SinkEventSourceMappingMSKRouteOrders: [topic-routed-twice] topic "quotes" is read by SinkEventSourceMappingMSKQuotesclusterQuotes already: one mapping (one route) per topic',
    ]);
  });

  test('destination-routed: a destination topic another mapping reads, in one line', () => {
    const t = compiled();
    delete t.Resources.SinkEventSourceMappingMSKQuotesclusterQuotes;
    applyMappingParams(t, params, addRouteMappings(t, [quotes, route('orders', 'quotes-failed')], 'quotes-failed'));
    const lines = checkTemplate(t).flatMap((m) => m.violations.map((v) => `${m.logicalId}: [${v.rule}] ${v.message}`));
    assert.deepEqual(lines, [
      'SinkEventSourceMappingKafkaQuotes: [destination-routed] destination topic "quotes-failed" is routed (SinkEventSourceMappingKafkaRouteOrders reads it): its failed records would be sunk again',
    ]);
  });
});

describe("the doctor's checks of the routes", () => {
  test('the shipped sink files pass', () => {
    for (const file of [path.join(PROJECT_ROOT, 'sink.yaml'), TWO_ROUTES])
      assert.deepEqual(checkRoutes(loadSinkFile(file).routes, config()), [], file);
  });

  test('route-names-legal: a table whose index names Postgres cannot take, or a collection MongoDB cannot', () => {
    const long = 'q'.repeat(48);
    assert.deepEqual(checkRoutes([quotes, orders], config({ POSTGRES_QUOTES_TABLE: long })), [
      {
        rule: 'route-names-legal',
        route: 'quotes',
        message: `table "${long}": index name ${long}_ingested_at_idx is longer than Postgres allows (63)`,
      },
    ]);
    assert.deepEqual(
      checkRoutes([quotes, orders], config({ MONGO_COLLECTION: 'system.views' })).map((v) => v.message),
      ['collection "system.views" is not a name MongoDB takes'],
    );
  });

  test('route-names-distinct: a table or collection of another route, or the dead letters', () => {
    assert.deepEqual(checkRoutes([quotes, orders], config({ POSTGRES_QUOTES_TABLE: 'orders' })), [
      { rule: 'route-names-distinct', route: 'orders', message: `table "orders" is route quotes's already` },
    ]);
    assert.deepEqual(checkRoutes([quotes, route('orders', 'orders', 'orders', 'dead_letters')], config()), [
      {
        rule: 'route-names-distinct',
        route: 'orders',
        message: `collection "dead_letters" is the dead letters's already`,
      },
    ]);
    assert.equal(checkRoutes([quotes, route('t', 't', 'dead_letters_tombstones')], config()).length, 1);
  });

  test('topic-routed-twice: KAFKA_TOPIC moves the quotes route onto another route’s topic', () => {
    assert.deepEqual(checkRoutes([quotes, orders], config({ KAFKA_TOPIC: 'orders' })), [
      { rule: 'topic-routed-twice', route: 'orders', message: 'topic "orders" is routed by route quotes already' },
    ]);
  });

  test('destination-routed: a destination topic that a route reads', () => {
    assert.deepEqual(checkRoutes([quotes, route('failed', 'quotes-failed')], config()), [
      {
        rule: 'destination-routed',
        route: 'quotes',
        message: 'destination topic "quotes-failed" is routed by route failed',
      },
    ]);
    assert.deepEqual(
      checkRoutes([quotes, orders], config(), 'orders').map((v) => v.rule),
      ['destination-routed'],
    );
  });
});
