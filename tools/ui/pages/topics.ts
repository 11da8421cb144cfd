/** Topics: partitions with their low and high offsets, each consumer group's committed offset and lag. */
import type { UiContext } from '../context';
import { html, layout, query, type Html } from '../html';
import type { GroupPosition, PartitionOffsets } from '../kafka-view';
import {
  contextLine,
  routeParam,
  dataTable,
  options,
  page,
  topicParam,
  type UiRequest,
  type UiResponse,
} from '../route';

function partitionsTable(topic: string, parts: PartitionOffsets[]): Html {
  const rows = parts.map(
    (p) =>
      html`<tr data-partition="${p.partition}">
        <td>${p.partition}</td>
        <td class="num">${p.low}</td>
        <td class="num">${p.high}</td>
        <td class="num">${p.high - p.low}</td>
        <td>
          <a href="/records${query({ topic, partition: p.partition, from: Math.max(p.low, p.high - 50) })}"
            >latest records</a
          >
        </td>
      </tr>`,
  );
  return dataTable('partitions', ['partition', 'low offset', 'high offset', 'records', ''], rows);
}

function groupsTable(groups: GroupPosition[], sinkGroup: string, parts: PartitionOffsets[]): Html {
  const head = parts.map((p) => `p${p.partition} committed / lag`);
  const rows = groups.map((g) => {
    const cells = g.partitions.map(
      (p) =>
        html`<td class="num" data-partition="${p.partition}">
          <span class="committed">${p.committed < 0 ? '–' : p.committed}</span> / <span class="lag">${p.lag}</span>
        </td>`,
    );
    const mark = g.groupId === sinkGroup ? html` <span class="tag">the sink's</span>` : '';
    return html`<tr data-group="${g.groupId}" data-total-lag="${g.totalLag}">
      <td><code>${g.groupId}</code>${mark}</td>
      ${cells}
      <td class="num total-lag">${g.totalLag}</td>
    </tr>`;
  });
  return dataTable('groups', ['consumer group', ...head, 'total lag'], rows);
}

/** The live part: refreshed every 2 s by ui.js. */
async function liveTables(ctx: UiContext, topic: string): Promise<Html> {
  const parts = await ctx.kafka.offsets(topic);
  const groups = await ctx.kafka.groups(topic, parts, ctx.config.KAFKA_GROUP_ID);
  return html`<h2>Partitions</h2>
    ${partitionsTable(topic, parts)}
    <h2>Consumer groups</h2>
    ${groupsTable(groups, ctx.config.KAFKA_GROUP_ID, parts)}
    <p class="muted">
      Lag: records after the group's committed offset (all of them while it has none). Updated
      ${new Date().toISOString()}.
    </p>`;
}

/** GET /topics/live: the tables alone. */
export async function topicsLive(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  return page(await liveTables(ctx, topicParam(ctx, req.url.searchParams)));
}

/** GET /topics. */
export async function topicsPage(ctx: UiContext, req: UiRequest): Promise<UiResponse> {
  const topic = topicParam(ctx, req.url.searchParams);
  const [topics, live] = await Promise.all([ctx.kafka.topics(), liveTables(ctx, topic)]);
  const body = html`<form method="get" class="filters">
      <label
        >topic
        <select name="topic">
          ${options(topics, topic)}
        </select></label
      ><button>show</button>
    </form>
    <div data-refresh="/topics/live${query({ topic })}" data-every="2000">${live}</div>`;
  return page(
    layout({
      title: 'Topics',
      current: '/topics',
      body,
      context: contextLine(ctx, routeParam(ctx, req.url.searchParams)),
    }),
  );
}
