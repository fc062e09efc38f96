// Entry point of the `lathe` binary: everything happens in the registered subcommands.
#include "cli/command.h"

int main(int argc, char** argv) { return lathe::cli::run_main(argc, argv); }
