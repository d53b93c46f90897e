/* units: how memline writes quantities for people: bytes in B/KiB/MiB/GiB/TiB, durations. */
#ifndef MEMLINE_UNITS_H
#define MEMLINE_UNITS_H

#include "strbuf.h"

/* "512 B", "1.5 KiB", "210.4 MiB", "3.2 GiB". */
void units_add_bytes(struct strbuf *sb, double bytes);
/* "850 ms", "2.31 s", "4 min 12 s", "3 h 05 min", "2 d 03 h". */
void units_add_duration(struct strbuf *sb, double secs);

#endif
