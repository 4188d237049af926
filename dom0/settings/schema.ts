// The settings document: one per qube and snapshot label, what a restore needs to rebuild the qube
// (class, label, template, every property with whether it is the default, features, tags, firewall
// rules, device assignments, volumes, notes, and the global properties inherited values depend on).
// Strict and versioned: every string from qubesd is bounded and checked here, and a document read
// back (from the metadata directory or the receiver) must pass the same schema.
import { z } from 'zod';

/** The `format` value of every settings document. */
export const SETTINGS_FORMAT = 'qubes-zfs-backup/qube-settings';
/** The current document version. */
export const SETTINGS_VERSION = 1;

/** Limits on what qubesd may return (real values are far smaller). */
export const SETTINGS_LIMITS = {
  properties: 1000,
  propertyValue: 4096,
  features: 10_000,
  featureValue: 65_536,
  tags: 10_000,
  firewallRules: 10_000,
  firewallRule: 4096,
  devices: 1000,
  deviceOptions: 64,
  notes: 256_000,
  name: 256,
} as const;

// C0 controls (tab allowed; newline only where said), DEL, C1, line/paragraph separators and bidi
// overrides: nothing that could move a terminal cursor or disguise text when printed.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_LINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex -- as above, newline allowed
const UNSAFE_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/** Why `s` cannot be stored as a settings string, or null. */
export function textProblem(s: string, max: number, multiline = false): string | null {
  if (s.length > max) return `longer than ${max} characters`;
  if ((multiline ? UNSAFE_TEXT : UNSAFE_LINE).test(s)) return 'contains a control character';
  return null;
}

const text = (max: number, multiline = false) =>
  z.custom<string>((s) => typeof s === 'string' && textProblem(s, max, multiline) === null, `expected text of at most ${max} characters without control characters`);

/** A qube name as Qubes allows it (qubes/vm/__init__.py validate_name), or dom0. */
export const QUBE_NAME_RE = /^[a-zA-Z][a-zA-Z0-9_.-]{0,30}$/;
const qubeName = z.string().regex(QUBE_NAME_RE);
/** A property name (Python identifier, lower case). */
export const PROPERTY_NAME_RE = /^[a-z_][a-z0-9_]{0,63}$/;
/** A feature name: printable ASCII without spaces. */
export const FEATURE_NAME_RE = /^[\x21-\x7e]{1,256}$/;
/** A tag (qubes.vm.Tags.validate_tag). */
export const TAG_RE = /^[A-Za-z0-9_-]{1,256}$/;
/** A device port or an option name: printable ASCII without spaces. */
export const DEVICE_TOKEN_RE = /^[\x21-\x7e]{1,256}$/;
/** An R4.3 device identity (DeviceSerializer allows spaces in values): printable ASCII. */
export const DEVICE_ID_RE = /^[\x20-\x7e]{1,256}$/;

const propertyType = z.enum(['str', 'int', 'bool', 'vm', 'label']);

/** One property: its type, whether it is the default (inherited), and its current value. */
export const propertySchema = z
  .object({
    type: propertyType,
    default: z.boolean(),
    /** The current value ('' is None or unset); for a default property, for reference only. */
    value: text(SETTINGS_LIMITS.propertyValue, true),
  })
  .strict();

const propertyMap = z
  .record(z.string().regex(PROPERTY_NAME_RE), propertySchema)
  .refine((m) => Object.keys(m).length <= SETTINGS_LIMITS.properties, `at most ${SETTINGS_LIMITS.properties} properties`);

/** One device assignment (R4.2 `List` or R4.3 `Assigned`). */
export const deviceSchema = z
  .object({
    class: z.string().regex(/^[a-z0-9_]{1,32}$/),
    backend: qubeName,
    port: z.string().regex(DEVICE_TOKEN_RE),
    /** R4.3 device identity ('*' for any); null on R4.2. */
    deviceId: z.string().regex(DEVICE_ID_RE).nullable(),
    /** R4.3 assignment mode ('required', 'auto-attach', 'ask-to-attach', …); null on R4.2. */
    mode: z.string().regex(/^[a-z-]{1,32}$/).nullable(),
    /** R4.2 `persistent=yes|no`; null on R4.3 (every listed assignment is persistent there). */
    persistent: z.boolean().nullable(),
    options: z
      .record(z.string().regex(DEVICE_TOKEN_RE), text(SETTINGS_LIMITS.propertyValue))
      .refine((m) => Object.keys(m).length <= SETTINGS_LIMITS.deviceOptions, 'too many device options'),
  })
  .strict();

/** One volume as admin.vm.volume.Info describes it. */
export const volumeSchema = z
  .object({
    pool: text(SETTINGS_LIMITS.name),
    vid: text(SETTINGS_LIMITS.propertyValue),
    /** Bytes, a decimal string (64-bit). */
    size: z.string().regex(/^[0-9]{1,20}$/),
    rw: z.boolean(),
    saveOnStop: z.boolean(),
    snapOnStart: z.boolean(),
    source: text(SETTINGS_LIMITS.propertyValue),
    revisionsToKeep: z.number().int().min(-1).max(1_000_000),
    ephemeral: z.boolean().nullable(),
  })
  .strict();

/** The settings document, version 1. */
export const settingsDocumentSchema = z
  .object({
    format: z.literal(SETTINGS_FORMAT),
    version: z.literal(SETTINGS_VERSION),
    qube: qubeName,
    /** The snapshot label this document belongs to, with its '@'. */
    snapshotLabel: z.string().regex(/^@[A-Za-z0-9_.: -]{1,250}$/),
    capturedAt: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/),
    /** Which Admin API flavours answered: R4.2 (`device.<class>.List`, no notes) or R4.3. */
    api: z.object({ devices: z.enum(['4.2', '4.3']), notes: z.boolean() }).strict(),
    class: z.string().regex(/^[A-Za-z]{1,32}$/),
    /** The qube's label (colour), as `label` property. */
    label: text(SETTINGS_LIMITS.name),
    /** The template, or null for a qube without one. */
    template: qubeName.nullable(),
    properties: propertyMap,
    features: z
      .record(z.string().regex(FEATURE_NAME_RE), text(SETTINGS_LIMITS.featureValue, true))
      .refine((m) => Object.keys(m).length <= SETTINGS_LIMITS.features, `at most ${SETTINGS_LIMITS.features} features`),
    tags: z.array(z.string().regex(TAG_RE)).max(SETTINGS_LIMITS.tags),
    /** Rules as admin.vm.firewall.Get returns them, in order (order matters). */
    firewall: z.array(text(SETTINGS_LIMITS.firewallRule)).max(SETTINGS_LIMITS.firewallRules),
    devices: z.array(deviceSchema).max(SETTINGS_LIMITS.devices),
    volumes: z.record(z.string().regex(/^[a-z0-9_-]{1,64}$/), volumeSchema),
    /** The qube's notes (R4.3), or null where the release has none. */
    notes: text(SETTINGS_LIMITS.notes, true).nullable(),
    /** Global properties (admin.property.GetAll) at capture time. */
    global: propertyMap,
  })
  .strict();

/** A settings document (version 1). */
export type SettingsDocument = z.infer<typeof settingsDocumentSchema>;
/** One property entry. */
export type PropertyEntry = z.infer<typeof propertySchema>;
/** One device assignment. */
export type DeviceEntry = z.infer<typeof deviceSchema>;
/** One volume. */
export type VolumeEntry = z.infer<typeof volumeSchema>;
