// lamina-bundle: builds and inspects Lamina boot bundles.
//   lamina-bundle build CONFIG.json -o OUT.bin [--search-dir DIR]...
//   lamina-bundle describe BUNDLE.bin [--json]
// Exit status: 0 success, 1 error (message on stderr), 2 bad usage.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bundle_encoder.hpp"
#include "config.hpp"
#include "describe.hpp"
#include "file_io.hpp"

namespace {

namespace fs = std::filesystem;
using namespace lamina::bundle_tool;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct BuildArguments {
    fs::path config;
    fs::path output;
    std::vector<fs::path> search_dirs;
};

struct DescribeArguments {
    fs::path bundle;
    bool json{false};
};

void run_build(const BuildArguments& arguments) {
    const LoadedConfig config = load_config({arguments.config, arguments.search_dirs});
    for (const std::string& warning : config.warnings) fmt::print(stderr, "warning: {}\n", warning);
    const std::vector<std::byte> bundle = encode_bundle(config.vms, config.networks, config.uplink_network, config.services);
    write_file_atomically(arguments.output, bundle);
}

int run(int argc, char** argv) {
    CLI::App app{"Builds and inspects Lamina boot bundles (the VMs Lamina starts at boot)."};
    app.require_subcommand(1);

    BuildArguments build;
    CLI::App* build_command = app.add_subcommand("build", "Build a boot bundle from a JSON config");
    build_command->add_option("config", build.config, "JSON config listing the VMs")->required();
    build_command->add_option("-o,--output", build.output, "Bundle file to write (atomically)")->required();
    build_command
        ->add_option("--search-dir", build.search_dirs,
                     "Directory to look up relative kernel/initrd paths in (repeatable, tried in order; "
                     "default: the config file's directory)")
        ->allow_extra_args(false)  // one directory per flag: never swallow the config path
        ->take_all();

    DescribeArguments describe;
    CLI::App* describe_command = app.add_subcommand("describe", "Show the VMs in a boot bundle, as Lamina sees them");
    describe_command->add_option("bundle", describe.bundle, "Boot bundle file")->required();
    describe_command->add_flag("--json", describe.json, "Machine-readable output");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? EXIT_SUCCESS : kExitUsage;
    }

    if (build_command->parsed()) {
        run_build(build);
        return EXIT_SUCCESS;
    }
    const auto format = describe.json ? DescribeFormat::kJson : DescribeFormat::kTable;
    return describe_bundle(describe.bundle, format, std::cout) ? EXIT_SUCCESS : kExitError;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& error) {
        // ToolError and encode_bundle's invalid_argument carry user-facing text.
        std::cerr << "lamina-bundle: error: " << error.what() << '\n';
        return kExitError;
    }
}
