// `lamina metrics`: Lamina's statistics for Prometheus, printed once or
// served over HTTP (GET /metrics), each scrape asking Lamina afresh.
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <httplib.h>

#include "commands.hpp"
#include "json_fields.hpp"
#include "listen_address.hpp"
#include "model.hpp"
#include "prometheus.hpp"

namespace lamina::cli {

namespace {

constexpr int kServiceUnavailable = 503;

struct MetricsSource {
    json stats;
    json board;
};

// One connection for both requests, closed before the scrape is answered.
[[nodiscard]] MetricsSource query_lamina(const GlobalOptions& global) {
    Connection connection = Connection::open(global.connection);
    json stats = connection.call("stats");
    json board = connection.call("board");
    return {std::move(stats), std::move(board)};
}

[[nodiscard]] std::string prometheus_text(const MetricsSource& source) {
    return render_prometheus(parse_stats(source.stats), parse_board(source.board));
}

[[nodiscard]] std::string url_host(const std::string& host) {
    return host.find(':') == std::string::npos ? host : fmt::format("[{}]", host);
}

void answer_scrape(const GlobalOptions& global, httplib::Response& response) {
    try {
        response.set_content(prometheus_text(query_lamina(global)), std::string(kPrometheusContentType));
    } catch (const std::exception& error) {
        // Prometheus marks the target down; the text says why.
        fmt::print(stderr, "lamina: scrape failed: {}\n", error.what());
        response.status = kServiceUnavailable;
        response.set_content(fmt::format("lamina: {}\n", error.what()), "text/plain; charset=utf-8");
    }
}

[[nodiscard]] int bind_server(httplib::Server& server, const ListenAddress& address) {
    if (address.port == 0) return server.bind_to_any_port(address.host);
    return server.bind_to_port(address.host, address.port) ? address.port : -1;
}

int serve_metrics(const GlobalOptions& global, const std::string& listen) {
    const ListenAddress address = parse_listen_address(listen);
    // A scraper that hangs up mid-answer must not kill the exporter.
    std::signal(SIGPIPE, SIG_IGN);
    httplib::Server server;
    std::mutex lamina_in_use;  // Lamina serves one client: scrapes take turns
    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& response) {
        const std::lock_guard lock(lamina_in_use);
        answer_scrape(global, response);
    });
    const int port = bind_server(server, address);
    if (port < 0) throw std::runtime_error(fmt::format("cannot listen on {}", listen));
    fmt::print(stderr, "lamina: serving Prometheus metrics on http://{}:{}/metrics\n", url_host(address.host), port);
    std::fflush(stderr);
    if (!server.listen_after_bind()) throw std::runtime_error(fmt::format("the HTTP server on {} stopped", listen));
    return 0;
}

}  // namespace

int run_metrics(const GlobalOptions& global, const MetricsOptions& options) {
    if (options.listen) return serve_metrics(global, *options.listen);
    const MetricsSource source = query_lamina(global);
    if (global.json) {
        fmt::print("{}\n", dump_json(json{{"stats", source.stats}, {"board", source.board}}, 2));
    } else {
        fmt::print("{}", prometheus_text(source));
    }
    return 0;
}

}  // namespace lamina::cli
