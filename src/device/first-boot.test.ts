// Boot-time migration of the saved SNMP config: a state file written before
// Gigamon's four notifications existed loads with them on (as a fresh box
// has them); an event the user turned off while the box knew it stays off.
import t from 'tap';
import { ADMIN, makeTestBox } from '../../test/harness/boxes.js';
import { prepareBoot, withNewSnmpEvents } from './first-boot.js';
import { SNMP_EVENTS, SNMP_EVENTS_BEFORE_GIGAMON, type SnmpConfig } from './model.js';

const GIGAMON = ['reset', 'config-save', 'firmware-change', 'auth-fail'];

t.test('a state file from before the Gigamon notifications boots with them on', async (t) => {
  const { box, store, clock } = await makeTestBox();
  await box.writeMemory(ADMIN);
  const saved = (await store.load())!;
  // As an older gvos-sim wrote it: the eight events it had, one turned off, no knownEvents.
  const old: SnmpConfig = {
    ...saved.config.snmp,
    events: SNMP_EVENTS_BEFORE_GIGAMON.filter((e) => e !== 'cold-start'),
  };
  delete old.knownEvents;
  const booted = prepareBoot({ ...saved, config: { ...saved.config, snmp: old } }, clock.now());
  for (const e of GIGAMON) t.ok(booted.config.snmp.events.includes(e as never), `${e} is on`);
  t.notOk(booted.config.snmp.events.includes('cold-start'), 'what the user turned off stays off');
  t.same(booted.config.snmp.knownEvents, [...SNMP_EVENTS], 'the file now knows every event');
});

t.test('an event turned off on a box that knew it stays off across boots', async (t) => {
  const { box, store, clock } = await makeTestBox();
  box.snmpSetEvent(ADMIN, 'auth-fail', false);
  await box.writeMemory(ADMIN);
  let doc = (await store.load())!;
  for (let i = 0; i < 2; i++) doc = prepareBoot(doc, clock.now());
  t.notOk(doc.config.snmp.events.includes('auth-fail'));
  t.equal(doc.config.snmp.events.length, SNMP_EVENTS.length - 1);
});

t.test('nothing to migrate: the same object back', async (t) => {
  const { box } = await makeTestBox();
  const c = box.config.snmp as SnmpConfig;
  t.equal(withNewSnmpEvents(c), c);
});
