/*
 * fuzz_log_reader: a libFuzzer target for everything that reads a log from outside: the log
 * reader, the run model built from it, both reports, the stacks report and the folded stacks
 * rendered from the model, the threads report, the threads' CSV and /metrics. The input is
 * the whole log file. Built by `make fuzz` (clang, -fsanitize=fuzzer) and, in `make check`,
 * linked with tests/fuzz/replay.c, which feeds it the fixture logs and mutations of them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "render/export.h"
#include "render/http.h"
#include "render/report.h"
#include "model/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("log", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct run run;
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	if (run_load(&run, path, NULL, NULL, &err) == 0) {
		report_text(&run, &out);
		report_json(&run, &out);
		report_stacks_text(&run, &out);
		struct export_out folded;
		export_out_init(&folded, NULL, NULL);
		export_folded(&run, &folded);
		export_out_finish(&folded);
		export_out_release(&folded);
		report_threads_text(&run, &out);
		struct export_out threads;
		export_out_init(&threads, NULL, NULL);
		export_csv_threads(&run, &threads);
		export_out_finish(&threads);
		export_out_release(&threads);
		http_metrics(&run, &out);
		run_release(&run);
	}
	strbuf_release(&err);
	strbuf_release(&out);
	close(fd);
	return 0;
}
