# make run  — create .venv if needed, install, start the bot (console chat by default).
# make test — create .venv with the test extras, install, lint and run the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# The WeChat extra (wechaty) only imports on Python < 3.13; it is skipped elsewhere and its tests skip.
comma := ,
WECHAT_OK := $(shell $(PYTHON) -c 'import sys; print("1" if sys.version_info < (3, 13) else "")')
TEST_EXTRAS := test,postgres,train,web$(if $(WECHAT_OK),$(comma)wechat)
# Skip reasons are always shown (e.g. PostgreSQL tests without ANQUAN_TEST_DATABASE_URL).
PYTEST_ARGS ?= -q -ra

.PHONY: run test lint format clean

# Install steps write to stderr (and are not echoed), so ``printf … | make run`` prints only the bot's replies.
$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	@echo "正在安装依赖（第一次大约需要一分钟，下面每行是一个正在下载或安装的包）……" >&2
	@$(BIN)/python -m pip install --progress-bar off -e '.[web]' >&2
	@touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	@echo "正在安装依赖和测试工具（第一次需要几分钟）……"
	$(BIN)/python -m pip install --quiet -e '.[$(TEST_EXTRAS)]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	@$(BIN)/anquan run

test: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP_TEST)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
