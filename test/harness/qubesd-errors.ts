// The two ways the fake qubesd says no, as the real one does (qubes/api/__init__.py `respond`).

/** qubesd closes the connection without a reply (a ProtocolError or PermissionDenied, e.g. a
 *  method this release does not have: qubes/api/__init__.py `respond` aborts the transport). */
export class QubesdAbort extends Error {}

/** An exception qubesd would send back (its Python class name and str()). */
export class QubesdError extends Error {
  constructor(readonly excType: string, message: string) {
    super(message);
  }
}
