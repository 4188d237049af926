// Device assignments of a settings document → the Admin API calls that recreate them on the
// release dom0 runs now (pure; restore --devices). The wire formats were read from qubesd's source
// (DEVICE-API.md): R4.2 `admin.vm.device.<class>.Attach` with `persistent=True`, R4.3
// `admin.vm.device.<class>.Assign` with a quoted `key='value'` payload. A value either format cannot
// carry is skipped with a warning rather than sent: qubesd answers a malformed call by closing the
// connection, which says nothing useful to the user.
import { finding, type Finding } from '../job/findings.ts';
import type { DeviceEntry } from '../settings/schema.ts';

/** One Admin API call that assigns a device; `alreadyDone` is the error that means it is there. */
export interface DeviceStep {
  method: string;
  arg: string;
  payload: string;
  what: string;
  /** The exception qubesd answers when the assignment exists (a re-run restore): done. */
  alreadyDone: 'DeviceAlreadyAttached' | 'DeviceAlreadyAssigned';
  /** The backend qube, restored first when it is restored too. */
  backend: string;
  /** The same assignment by hand, for messages. */
  manual: string;
}

// R4.2 Attach: option keys and values as qubes/api/admin.py vm_device_attach accepts them.
const ATTACH42_KEY = /^[A-Za-z0-9._-]{1,256}$/;
const ATTACH42_VALUE = /^[A-Za-z0-9._,+:-]{1,256}$/;
// A port in a call's argument: the header is space-separated, and R4.3 splits port from device id at
// `+`/`:` (device_protocol.py _parse).
const PORT42 = /^[A-Za-z0-9._:-]{1,256}$/;
const PORT43 = /^[A-Za-z0-9._-]{1,256}$/;
// A device id as it stands in the R4.3 argument after repr_for_qarg (`:`→`+`, `*`→`_`), within the
// characters the Admin API client sends in an argument.
const QARG = /^[A-Za-z0-9._+-]{1,256}$/;
// R4.3 DeviceSerializer: keys without quotes, `=`, backtick or space; values printable ASCII.
const KEY43 = /^[A-Za-z0-9!#$%&()*+,\-./:;<>?@[\\\]^_{|}~]{1,256}$/;
const VALUE43 = /^[\x20-\x7e]{0,256}$/;
const MODES43 = new Set(['required', 'auto-attach', 'ask-to-attach']);

const quote43 = (v: string): string => `'${v.replace(/'/g, "\\'")}'`;
const label = (d: DeviceEntry): string => `${d.class} ${d.backend}:${d.port}${d.deviceId !== null && d.deviceId !== '*' ? `:${d.deviceId}` : ''}`;

/** The device steps for `qube` (the name it is restored as) on `release`, with what was left out. */
export function planDevices(
  devices: readonly DeviceEntry[], qube: string, release: '4.2' | '4.3', backendExists: (name: string) => boolean,
): { steps: DeviceStep[]; findings: Finding[] } {
  const steps: DeviceStep[] = [];
  const findings: Finding[] = [];
  const skip = (d: DeviceEntry, why: string): void => {
    findings.push(finding('RESTORE_DEVICE_NOT_APPLIED', 'warning', `${qube}: the ${label(d)} assignment is not applied: ${why}.`, { subject: `${qube}:${d.class}:${d.backend}:${d.port}` }));
  };
  const converted: string[] = [];
  for (const d of devices) {
    if (d.persistent === false) continue; // an R4.2 attachment for that session only: not an assignment
    if (d.backend !== 'dom0' && !backendExists(d.backend)) {
      skip(d, `its backend qube ${d.backend} does not exist here and is not restored too (restore ${d.backend} with it, then run qvm-device ${d.class} assign)`);
      continue;
    }
    if (release === '4.2') {
      if (d.mode === 'ask-to-attach') {
        skip(d, 'R4.2 has no ask-to-attach assignments');
        continue;
      }
      const bad = Object.entries(d.options).find(([k, v]) => !ATTACH42_KEY.test(k) || !ATTACH42_VALUE.test(v));
      if (!PORT42.test(d.port) || bad) {
        skip(d, `R4.2's Attach call cannot carry ${bad ? `the option ${JSON.stringify(bad[0])}=${JSON.stringify(bad[1])}` : `the port ${JSON.stringify(d.port)}`}; assign it with qvm-device`);
        continue;
      }
      const opts = Object.entries(d.options).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`);
      steps.push({
        method: `admin.vm.device.${d.class}.Attach`, arg: `${d.backend}+${d.port}`, payload: [...opts, 'persistent=True'].join(' '),
        what: `device ${label(d)} (persistent)`, alreadyDone: 'DeviceAlreadyAttached', backend: d.backend,
        manual: `qvm-device ${d.class} attach --persistent ${opts.map((o) => `-o ${o} `).join('')}${qube} ${d.backend}:${d.port}`,
      });
      continue;
    }
    // R4.3. An R4.2 assignment is persistent: mode `required`, as 4.3's own qubes.xml migration does,
    // and a USB `identity` option becomes the device id.
    const options = { ...d.options };
    let deviceId = d.deviceId;
    let mode = d.mode;
    if (mode === null) {
      mode = 'required';
      if (deviceId === null && d.class === 'usb' && options['identity'] !== undefined) {
        deviceId = options['identity'];
        delete options['identity'];
      }
      converted.push(label(d));
    }
    deviceId ??= '*';
    if (!MODES43.has(mode)) {
      skip(d, `its mode ${JSON.stringify(mode)} is not one R4.3's Assign accepts`);
      continue;
    }
    if (!PORT43.test(d.port)) {
      skip(d, `R4.3's Assign call cannot carry the port ${JSON.stringify(d.port)}; assign it with qvm-device`);
      continue;
    }
    const bad = Object.entries(options).find(([k, v]) => !KEY43.test(`_${k}`) || !VALUE43.test(v));
    if (bad) {
      skip(d, `R4.3's Assign call cannot carry the option ${JSON.stringify(bad[0])}`);
      continue;
    }
    // usb-proxy's device-pre-assign:usb refuses any option, after qubesd already holds the
    // assignment in memory (DEVICE-API.md §3): never send one.
    if (d.class === 'usb' && Object.keys(options).length > 0) {
      skip(d, `R4.3 refuses options on USB assignments (${Object.keys(options).join(', ')}); assign it with qvm-device usb assign`);
      continue;
    }
    // A device id the argument cannot hold goes in the payload only, with `_` (any) in the argument:
    // qubesd then takes the payload's (load_device_info).
    const asQarg = deviceId.replace('?******', '_______').replace(/\*/g, '_').replace(/:/g, '+');
    const qargId = QARG.test(asQarg) ? asQarg : '_';
    const payload = [
      ['device_id', deviceId], ['port_id', d.port], ['devclass', d.class], ['backend_domain', d.backend], ['mode', mode], ['frontend_domain', qube],
      ...Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [`_${k}`, v]),
    ].map(([k, v]) => `${k}=${quote43(v!)}`).join(' ');
    steps.push({
      method: `admin.vm.device.${d.class}.Assign`, arg: `${d.backend}+${d.port}+${qargId}`, payload,
      what: `device ${label(d)} (${mode})`, alreadyDone: 'DeviceAlreadyAssigned', backend: d.backend,
      manual: `qvm-device ${d.class} assign${mode === 'required' ? ' --required' : ''}${mode === 'ask-to-attach' ? ' --ask' : ''} ${qube} ${d.backend}:${d.port}${deviceId !== '*' ? `:${deviceId}` : ''}`,
    });
  }
  if (converted.length > 0) {
    findings.push(finding('RESTORE_DEVICE_CONVERTED', 'info', `${qube}: ${converted.join(', ')} ${converted.length === 1 ? 'was an R4.2 assignment; it is' : 'were R4.2 assignments; they are'} assigned with mode required on R4.3 (as R4.3 migrates its own), a USB identity as the device id. A PCI device behind a bridge may have another port id on R4.3: check qvm-device pci list ${qube}.`, { subject: qube }));
  }
  return { steps, findings };
}
