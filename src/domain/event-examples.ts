// The pieces the event catalog's examples share (./event-catalog-entries.ts).
export const apiFacts = {
  reservationType: "homeDelivery",
  schedule: {
    departAtEarliest: "2026-06-20T09:00:00Z",
    departAtLatest: "2026-06-20T11:00:00Z",
    arriveAtEarliest: "2026-06-20T14:00:00Z",
    arriveAtLatest: "2026-06-20T16:00:00Z",
  },
  route: { distanceMeters: 182000, durationSeconds: 7200 },
};
export const rentalExample = (gdsStatus: string) => ({
  bookingCode: "BR-1234567",
  localNumber: "GFC042389XY",
  gdsStatus,
  changed: "status",
  pickupDate: "2026-05-15 10:00:00",
  dropoffDate: "2026-05-18 10:00:00",
  pickupAt: "2026-05-15T13:00:00.000Z",
  dropoffAt: "2026-05-18T13:00:00.000Z",
  timeZone: "America/Sao_Paulo",
});
export const reservationPrevious: Record<string, string | null> = {
  created: null,
  taken: "created",
  driving: "taken",
  sealed: "driving",
  final_costs: "sealed",
  cancelled: "taken",
};
