# Clew's build and test entry points. `make test` is the one test command.
.PHONY: build run test conformance fuzz-smoke bench soak clean

build:
	go build -o bin/clew ./cmd/clew

run: build
	./bin/clew

test:
	./scripts/test.sh

conformance: build
	./scripts/conformance.sh

fuzz-smoke:
	./scripts/fuzz-smoke.sh

# Storage benchmark (docs/benchmarks.md): TRACES=100000 by default.
bench:
	./scripts/bench.sh

# Sustained load, memory sampled every 10 s: RATE=50000 DURATION=180s.
soak:
	./scripts/soak.sh

clean:
	rm -rf bin

# The web UI (ui/ → internal/ui/dist, embedded in the binary). See docs/ui.md.
.PHONY: ui ui-check test-browser
ui:
	cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build

ui-check:
	./scripts/ui-check.sh

test-browser:
	./test/browser/run.sh
