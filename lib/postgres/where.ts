/** SQL conditions over a table's coordinates, shared by the statements on the records and the dead-letter tables. */

/** `json_to_recordset($1)` of identities, alias `t`, its column list left open for more columns. */
export const COORDINATES_RECORDSET =
  'json_to_recordset($1::json) as t("cluster" text, "topic" text, "partition" integer, "offset" bigint';

/** `(topic, partition, offset) in (…)` over three array parameters, starting at `$first`. */
export const IN_COORDINATES = (first: number): string =>
  `(topic, partition, "offset") in (select * from unnest($${first}::text[], $${first + 1}::int[], $${first + 2}::bigint[]))`;

/** One partition's offsets `$3` to `$4` (both included) of topic `$1`, partition `$2`, by offset. */
export const RANGE = 'topic = $1 and partition = $2 and "offset" between $3 and $4 order by "offset"';
