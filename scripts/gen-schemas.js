#!/usr/bin/env node
// Rewrite the generated schema files from their TypeBox definitions (run after `npm run build`):
// src/lab/topology.schema.json from src/lab/topology-schema.ts. A test fails when they differ.
import { writeFileSync } from 'node:fs';
import { URL } from 'node:url';

const { topologyJsonSchemaText } = await import('../dist/src/lab/topology-schema.js');
const target = new URL('../src/lab/topology.schema.json', import.meta.url);
writeFileSync(target, topologyJsonSchemaText());
console.log(`wrote ${target.pathname}`);
