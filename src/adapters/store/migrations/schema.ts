/** The numbered migrations, in order, each written once for both dialects. */
import type { MigrationSource } from './dialect';
import { versions01to07 } from './versions-01-07';
import { versions09on } from './versions-09-on';

export const schema: MigrationSource[] = [...versions01to07, ...versions09on];
