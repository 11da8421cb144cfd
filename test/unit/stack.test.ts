/** Pure parts of the stack: KRaft cluster ids, and how `up` chooses its mode. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_KAFKA_BROKERS, DEFAULT_MONGO_URL, DEFAULT_POSTGRES_URL } from '../../lib/config';
import { newClusterId } from '../../tools/stack/kafka';
import {
  chooseMode,
  type GivenSettings,
  type ModeChoice,
  type ModeInputs,
  type StackEnv,
} from '../../tools/stack/mode';
import { givenSettings } from '../../tools/stack/stack';

test('KRaft cluster ids are 16 random bytes in base64url, and none starts with "-" (StorageTool would take it for an option)', () => {
  const ids = new Set<string>();
  // About 1 in 64 raw ids starts with '-': 5,000 draws meet ~78 of them.
  for (let i = 0; i < 5_000; i++) {
    const id = newClusterId();
    assert.ok(!id.startsWith('-'), id);
    assert.equal(Buffer.from(id, 'base64url').length, 16);
    ids.add(id);
  }
  assert.equal(ids.size, 5_000);
});

const YOURS: StackEnv = {
  KAFKA_BROKERS: 'kafka.example:9092',
  POSTGRES_URL: 'postgres://me:secret@db.example:5432/simpsons',
  MONGO_URL: 'mongodb://me:secret@mongo.example:27017/',
};
const NATIVE: StackEnv = {
  KAFKA_BROKERS: '127.0.0.1:9094',
  POSTGRES_URL: 'postgres://mchi:mchi1234@127.0.0.1:5433/simpsons',
  MONGO_URL: 'mongodb://127.0.0.1:27018/',
};
const COMPOSE: StackEnv = {
  KAFKA_BROKERS: DEFAULT_KAFKA_BROKERS,
  POSTGRES_URL: DEFAULT_POSTGRES_URL,
  MONGO_URL: DEFAULT_MONGO_URL,
};

const given = (env: Partial<StackEnv>, source: 'environment' | '.env' = 'environment'): GivenSettings =>
  Object.fromEntries(Object.entries(env).map(([k, value]) => [k, { value, source }]));

/** Inputs with nothing set, nothing saved and no Docker; `docker()` records whether it was asked. */
function inputs(
  over: Partial<ModeInputs> & { dockerAnswers?: boolean } = {},
): ModeInputs & { dockerAsked: () => boolean } {
  let asked = false;
  const { dockerAnswers = false, ...rest } = over;
  return {
    given: {},
    saved: {},
    unreachable: [],
    envFile: '.stack/env',
    docker: () => {
      asked = true;
      return dockerAnswers;
    },
    dockerAsked: () => asked,
    ...rest,
  };
}

function expectMode(choice: ModeChoice, mode: string, reason: RegExp): void {
  assert.ok(choice.ok, choice.reason);
  assert.equal(choice.mode, mode);
  assert.match(choice.reason, reason);
  assert.doesNotMatch(choice.reason, /secret/, 'passwords are never shown');
}

function expectFailure(choice: ModeChoice, unreachable: string[], reason: RegExp): void {
  assert.ok(!choice.ok, `expected a failure, got ${choice.ok && choice.mode}`);
  assert.deepEqual(choice.unreachable, unreachable);
  assert.match(choice.reason, reason);
  assert.doesNotMatch(choice.reason, /secret|\n/, 'one line, and passwords are never shown');
}

test('mode: all three exported and answering: your services (external), as given', () => {
  const i = inputs({ given: given(YOURS) });
  const choice = chooseMode(i);
  expectMode(choice, 'external', /set \(the environment\) and all three answer/);
  assert.deepEqual(choice.ok && choice.env, YOURS);
  assert.equal(i.dockerAsked(), false);
});

test('mode: all three in .env and answering: your services (external)', () => {
  expectMode(chooseMode(inputs({ given: given(YOURS, '.env') })), 'external', /set \(\.env\)/);
});

test('mode: some exported, the others in .env: both sources are named', () => {
  const g = {
    ...given({ KAFKA_BROKERS: YOURS.KAFKA_BROKERS }),
    ...given({ POSTGRES_URL: YOURS.POSTGRES_URL, MONGO_URL: YOURS.MONGO_URL }, '.env'),
  };
  expectMode(chooseMode(inputs({ given: g })), 'external', /the environment and \.env/);
});

test('mode: given services that do not answer: fails naming them, starts nothing, asks no Docker', () => {
  const i = inputs({ given: given(YOURS), unreachable: ['postgres'], dockerAnswers: true });
  expectFailure(
    chooseMode(i),
    ['postgres'],
    /^postgres \(postgres:\/\/me:\*\*\*@db\.example:5432\/simpsons\) does not answer \(set in the environment\)/,
  );
  assert.equal(i.dockerAsked(), false);
});

test('mode: the docker-compose defaults (a copy of .env.example) not answering, Docker answers: docker', () => {
  const i = inputs({ given: given(COMPOSE, '.env'), unreachable: ['kafka', 'postgres', 'mongo'], dockerAnswers: true });
  expectMode(chooseMode(i), 'docker', /docker-compose defaults/);
});

test('mode: the docker-compose defaults not answering and no Docker: fails naming all three', () => {
  const i = inputs({ given: given(COMPOSE, '.env'), unreachable: ['kafka', 'postgres', 'mongo'] });
  expectFailure(
    chooseMode(i),
    ['kafka', 'postgres', 'mongo'],
    /kafka \(127\.0\.0\.1:9092\), postgres .*, mongo .* do not answer/,
  );
});

test("mode: settings that are this native stack's own (a process that loaded .stack/env): native is kept", () => {
  const i = inputs({ given: given(NATIVE), saved: { mode: 'native', env: NATIVE }, dockerAnswers: true });
  expectMode(chooseMode(i), 'native', /kept from an earlier up; .* are this stack's own/);
  assert.equal(i.dockerAsked(), false);
});

test('mode: nothing given, an external .stack/env that answers: stays external', () => {
  const choice = chooseMode(inputs({ saved: { mode: 'external', env: YOURS }, dockerAnswers: true }));
  expectMode(choice, 'external', /kept from an earlier up: \.stack\/env names your services/);
  assert.deepEqual(choice.ok && choice.env, YOURS);
});

test('mode: nothing given, an external .stack/env that does not answer: fails in one line naming the service, no second stack', () => {
  const i = inputs({ saved: { mode: 'external', env: YOURS }, unreachable: ['mongo'], dockerAnswers: true });
  expectFailure(
    chooseMode(i),
    ['mongo'],
    /^mongo \(mongodb:\/\/me:\*\*\*@mongo\.example:27017\/\) does not answer; \.stack\/env keeps .* stack -- down/,
  );
  assert.equal(i.dockerAsked(), false);
});

test('mode: the env file named in messages is the real one (QUOTES_SINK_STACK_DIR)', () => {
  const i = inputs({ saved: { mode: 'external', env: YOURS }, unreachable: ['kafka'], envFile: '/tmp/elsewhere/env' });
  expectFailure(chooseMode(i), ['kafka'], /\/tmp\/elsewhere\/env keeps/);
});

test('mode: given settings win over an external .stack/env', () => {
  const choice = chooseMode(inputs({ given: given(NATIVE), saved: { mode: 'external', env: YOURS } }));
  expectMode(choice, 'external', /set \(the environment\)/);
  assert.deepEqual(choice.ok && choice.env, NATIVE);
});

test('mode: a native stack from an earlier up stays native even when Docker answers', () => {
  const i = inputs({ saved: { mode: 'native', env: NATIVE }, dockerAnswers: true });
  expectMode(
    chooseMode(i),
    'native',
    /^kept from an earlier up; KAFKA_BROKERS, POSTGRES_URL and MONGO_URL are not set$/,
  );
  assert.equal(i.dockerAsked(), false);
});

test('mode: first up, Docker answers: docker', () => {
  expectMode(chooseMode(inputs({ dockerAnswers: true })), 'docker', /^a Docker engine answers; .* are not set$/);
});

test('mode: first up, no Docker: native', () => {
  expectMode(chooseMode(inputs()), 'native', /^no Docker engine answers; .* are not set$/);
});

test('mode: docker chosen earlier and Docker answers: docker is kept', () => {
  expectMode(
    chooseMode(inputs({ saved: { mode: 'docker', env: COMPOSE }, dockerAnswers: true })),
    'docker',
    /^kept from an earlier up/,
  );
});

test('mode: docker chosen earlier but no Docker engine now: native, and it says so', () => {
  expectMode(
    chooseMode(inputs({ saved: { mode: 'docker', env: COMPOSE } })),
    'native',
    /docker mode was used before but no Docker engine answers now/,
  );
});

test('mode: only some settings given: a stack is started, and the reason says why yours are not used', () => {
  const choice = chooseMode(inputs({ given: given({ KAFKA_BROKERS: YOURS.KAFKA_BROKERS }, '.env') }));
  expectMode(choice, 'native', /only KAFKA_BROKERS set \(\.env\): your own services are used when all three are/);
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'quotes-sink-given-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('given settings: the environment wins over .env, and an empty variable counts as unset', () => {
  const dotenv = path.join(dir, '.env');
  writeFileSync(dotenv, `KAFKA_BROKERS=from-dotenv:9092\nPOSTGRES_URL=${YOURS.POSTGRES_URL}\n`);
  const got = givenSettings({ KAFKA_BROKERS: 'from-env:9092', POSTGRES_URL: '', MONGO_URL: YOURS.MONGO_URL }, dotenv);
  assert.deepEqual(got, {
    KAFKA_BROKERS: { value: 'from-env:9092', source: 'environment' },
    POSTGRES_URL: { value: YOURS.POSTGRES_URL, source: '.env' },
    MONGO_URL: { value: YOURS.MONGO_URL, source: 'environment' },
  });
});

test('given settings: no .env file, nothing set: none', () => {
  assert.deepEqual(givenSettings({}, path.join(dir, 'missing')), {});
});
