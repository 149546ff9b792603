/**
 * zod as this code base uses it: `zod/mini`, the same validation core as zod's classic API with its schemas
 * built by functions (`z.optional(z.string())`, `.check(z.minLength(1))`) instead of methods, with zod's
 * English messages. The classic API keeps every method on every schema, so a bundle can't leave any of it
 * out: the controller's bundle held 440 KB of it, 31 KB of zod/mini. Loaded alone, the classic bundle cost
 * about 12 MB of RSS and zod/mini 0.5 MB; in the controller, which shares much of that cost with its other
 * modules, the switch took 1.7 MB off its idle RSS.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

// imported as a namespace (`import * as z`), so a bundle keeps only the functions its importers call
export * from 'zod/mini';
