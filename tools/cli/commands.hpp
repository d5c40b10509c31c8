// The verbs of `lamina`: each opens its own short connection (Lamina serves
// one client at a time), prints to stdout and returns the exit status.
// Failures are thrown: ConnectionError, LaminaError, MalformedReply.
#pragma once

#include <optional>
#include <string>

#include "connection.hpp"
#include "requests.hpp"

namespace lamina::cli {

struct GlobalOptions {
    ConnectionOptions connection;
    bool json{false};  // print Lamina's result object instead of text
};

struct TopOptions {
    double interval_s{2};
    std::optional<unsigned> iterations;  // none: until interrupted
};

struct ConsoleOptions {
    std::string vm;
    double linger_s{2};
};

struct MetricsOptions {
    std::optional<std::string> listen;  // HOST:PORT
};

struct ServicesOptions {
    bool replicas{false};  // also a table of every replica
};

struct ScalingLogOptions {
    std::optional<std::string> service;  // only this service's entries
    bool follow{false};                  // keep polling for new entries
    double interval_s{2};                // between polls
    std::optional<unsigned> iterations;  // polls with --follow; none: until interrupted
};

// A command line Lamina would not make sense of, found after parsing.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

int run_list(const GlobalOptions& global);
int run_board(const GlobalOptions& global);
int run_create(const GlobalOptions& global, const CreateOptions& options);
// start, pause, resume: the VM as it is afterwards.
int run_vm_transition(const GlobalOptions& global, const std::string& op, const std::string& vm);
int run_shutdown(const GlobalOptions& global, const std::string& vm);
int run_destroy(const GlobalOptions& global, const std::string& vm);
int run_set(const GlobalOptions& global, const SetOptions& options);
int run_balloon(const GlobalOptions& global, const std::string& vm, std::uint64_t target_mib);
int run_stats(const GlobalOptions& global, const std::optional<std::string>& vm);
int run_top(const GlobalOptions& global, const TopOptions& options);
int run_console(const GlobalOptions& global, const ConsoleOptions& options);
int run_metrics(const GlobalOptions& global, const MetricsOptions& options);
int run_services(const GlobalOptions& global, const ServicesOptions& options);
int run_service_show(const GlobalOptions& global, const std::string& service);
int run_service_create(const GlobalOptions& global, const ServiceCreateOptions& options);
int run_service_set(const GlobalOptions& global, const ServiceSetOptions& options);
int run_service_destroy(const GlobalOptions& global, const std::string& service);
int run_scaling_log(const GlobalOptions& global, const ScalingLogOptions& options);

}  // namespace lamina::cli
