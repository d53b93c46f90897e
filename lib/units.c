/* units: human-readable bytes and durations for reports and messages. */
#include "units.h"

void units_add_bytes(struct strbuf *sb, double bytes)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int u = 0;
	while (bytes >= 1024 && u < 5) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		strbuf_addf(sb, "%.0f B", bytes);
	else
		strbuf_addf(sb, "%.1f %s", bytes, unit[u]);
}

void units_add_duration(struct strbuf *sb, double s)
{
	if (s < 0) {
		strbuf_addch(sb, '-');
		s = -s;
	}
	if (s < 1)
		strbuf_addf(sb, "%.0f ms", s * 1000);
	else if (s < 60)
		strbuf_addf(sb, "%.2f s", s);
	else if (s < 3600)
		strbuf_addf(sb, "%d min %02d s", (int)(s / 60), (int)s % 60);
	else if (s < 86400)
		strbuf_addf(sb, "%d h %02d min", (int)(s / 3600), (int)(s / 60) % 60);
	else
		strbuf_addf(sb, "%d d %02d h", (int)(s / 86400), (int)(s / 3600) % 24);
}
