# mk/html.mk: the HTML report's front end (web/), embedded into memline, and the browser test's
# driver. Included by the Makefile, whose variables (BUILD, CC, ALLCFLAGS...) it uses.
#
# uPlot comes from the npm registry: `npm ci` installs it from the committed web/package-lock.json
# into $(BUILD)/web (never into the source tree); scripts/embed turns its JS and CSS, our
# common.js, report.js, job.js, report.css, the pages' shell page.html and their bodies
# (report-body.html, job-body.html) into byte arrays in a generated C file, whose object joins
# the core library so that lib/render/plot-html.c can reference them.
#   make html-assets   the generated object $(HTML_OBJ)
#   make html-test     what tests/e2e/test_html.py needs: playwright-core (npm, from
#                      tests/e2e/browser/package-lock.json) and the plot-html test driver

# Should this file be included before the Makefile's first rule, `all` stays the default goal.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

NPM        ?= npm
NPM_CI     := $(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
HTML_NPM   := $(BUILD)/web
UPLOT_DIST := $(HTML_NPM)/node_modules/uplot/dist
HTML_C     := $(BUILD)/gen/html-assets.c
HTML_OBJ   := $(BUILD)/obj/gen/html-assets.o
HTML_WEB   := web/page.html web/report-body.html web/job-body.html web/report.js web/job.js \
              web/common.js web/report.css
BROWSER_NPM := $(BUILD)/browser
HTML_DRIVER := $(BUILD)/tests/plot_html_driver

.PHONY: html-assets html-test

html-assets: $(HTML_OBJ)
html-test: $(BROWSER_NPM)/node_modules/.package-lock.json $(HTML_DRIVER)

# npm ci writes node_modules/.package-lock.json last: the stamp of a complete install.
$(HTML_NPM)/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@mkdir -p $(HTML_NPM)
	cp web/package.json web/package-lock.json $(HTML_NPM)/
	cd $(HTML_NPM) && $(NPM_CI)
	@touch $@

$(HTML_C): scripts/embed $(HTML_WEB) $(HTML_NPM)/node_modules/.package-lock.json
	@mkdir -p $(dir $@)
	scripts/embed $@ page_template=web/page.html report_body=web/report-body.html \
	  job_body=web/job-body.html report_js=web/report.js job_js=web/job.js \
	  common_js=web/common.js report_css=web/report.css uplot_js=$(UPLOT_DIST)/uPlot.iife.min.js \
	  uplot_css=$(UPLOT_DIST)/uPlot.min.css

$(HTML_OBJ): $(HTML_C)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(BROWSER_NPM)/node_modules/.package-lock.json: tests/e2e/browser/package.json \
  tests/e2e/browser/package-lock.json
	@mkdir -p $(BROWSER_NPM)
	cp tests/e2e/browser/package.json tests/e2e/browser/package-lock.json $(BROWSER_NPM)/
	cd $(BROWSER_NPM) && $(NPM_CI)
	@touch $@

# plot_html() from the command line until `memline plot` exists: driver LOG... -o OUT.html
$(HTML_DRIVER): tests/e2e/browser/plot_html_driver.c $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< $(CORE) $(LDFLAGS) $(LIBS)
