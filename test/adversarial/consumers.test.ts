/**
 * Adversarial cases §4.11 (feed generator and labeler). 4.11.1–4.11.3 run
 * against the real services in test/feedgen/service.test.ts,
 * test/feedgen/consumer.test.ts and test/labeler/*.test.ts (the BEHAVIORS.md
 * table names each); the case that does not apply to atfed says why here.
 */
import { it } from 'node:test'

it('4.11.4 not applicable: atfed labelers keep one label key for life (no rotation command) and atfed verifies no foreign labels', { skip: 'not applicable: no label-key rotation and no foreign-label verification in atfed' }, () => {})
