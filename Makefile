# Clew's build and test entry points. `make test` is the one test command.
.PHONY: build run test conformance fuzz-smoke bench clean

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

clean:
	rm -rf bin
