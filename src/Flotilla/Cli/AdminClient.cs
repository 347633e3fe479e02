using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Flotilla.Hosting;
using Flotilla.Runtime;

namespace Flotilla.Cli;

/// <summary>Thrown for anything the CLI should report in one line and exit 1 on.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>
/// Talks to a running Flotilla's admin API. Found, in order, through: <c>--admin URL</c> or <c>FLOTILLA_ADMIN</c> (with
/// <c>FLOTILLA_TOKEN</c>); <c>--state-dir DIR</c> or <c>FLOTILLA_STATE_DIR</c>; a <c>.flotilla/admin.json</c> in the current
/// directory or one of its parents.
/// </summary>
internal sealed class AdminClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _origin;

    private AdminClient(string url, string token, string origin)
    {
        _origin = origin;
        _http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public static AdminClient Connect(string? adminUrl, string? stateDirectory)
    {
        adminUrl ??= Environment.GetEnvironmentVariable("FLOTILLA_ADMIN");
        if (!string.IsNullOrEmpty(adminUrl))
        {
            var token = Environment.GetEnvironmentVariable("FLOTILLA_TOKEN");
            return string.IsNullOrEmpty(token)
                ? throw new CliException($"FLOTILLA_TOKEN must be set to use the admin API at {adminUrl} (the token is in admin.json in Flotilla's state directory)")
                : new AdminClient(adminUrl, token, adminUrl);
        }

        stateDirectory ??= Environment.GetEnvironmentVariable("FLOTILLA_STATE_DIR");
        var file = stateDirectory is not null ? Path.Combine(stateDirectory, StateDirectory.AdminFileName) : FindAdminFile();
        if (file is null)
        {
            throw new CliException(
                $"no running Flotilla found: no {StateDirectory.DefaultName}/{StateDirectory.AdminFileName} in {Environment.CurrentDirectory} or its parents. " +
                "Pass --state-dir (the .flotilla directory beside your spec, e.g. samples/.flotilla) or --admin URL with FLOTILLA_TOKEN.");
        }

        var info = StateDirectory.ReadAdminInfo(file)
            ?? throw new CliException($"cannot read {file}: is `flotilla up` running with that state directory?");
        return new AdminClient(info.Url, info.Token, file);
    }

    public Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type) => SendAsync(HttpMethod.Get, path, null, type);

    public Task<T> PostAsync<T>(string path, string? json, JsonTypeInfo<T> type) => SendAsync(HttpMethod.Post, path, json, type);

    /// <summary>The response body as the server wrote it, for <c>--json</c>.</summary>
    public async Task<string> GetRawAsync(string path) => (await SendRawAsync(HttpMethod.Get, path, null)).TrimEnd();

    public async Task<string> PostRawAsync(string path, string? json) => (await SendRawAsync(HttpMethod.Post, path, json)).TrimEnd();

    /// <summary>Sends and returns the status and body whatever the status: for answers whose errors carry data (apply's plan).</summary>
    public async Task<(int Status, string Body)> SendForStatusAsync(HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        try
        {
            using var response = await _http.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException)
        {
            throw new CliException($"Flotilla at {_http.BaseAddress} (from {_origin}) is not answering ({e.InnerException.Message}); is `flotilla up` still running?");
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<T> SendAsync<T>(HttpMethod method, string path, string? json, JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(await SendRawAsync(method, path, json), type) ?? throw new CliException($"empty answer from {path}");

    private async Task<string> SendRawAsync(HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException)
        {
            throw new CliException($"Flotilla at {_http.BaseAddress} (from {_origin}) is not answering ({e.InnerException.Message}); is `flotilla up` still running?");
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new CliException(ProblemDetail(body) ?? $"{(int)response.StatusCode} {response.ReasonPhrase}");
            }

            return body;
        }
    }

    /// <summary>The <c>detail</c> of an RFC 9457 problem body, if it is one.</summary>
    public static string? ProblemDetail(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// A <c>.flotilla/admin.json</c> in the current directory or a parent (like git finds <c>.git</c>); failing that, the
    /// one of a running Flotilla in a directory just below (so that <c>flotilla ps</c> at a repository's root finds the
    /// fleet of <c>samples/flotilla.yaml</c>). Several running ones below is an error that names them.
    /// </summary>
    private static string? FindAdminFile()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            var file = Path.Combine(dir.FullName, StateDirectory.DefaultName, StateDirectory.AdminFileName);
            if (File.Exists(file))
            {
                return file;
            }
        }

        var running = Directory.EnumerateDirectories(Environment.CurrentDirectory)
            .Select(dir => Path.Combine(dir, StateDirectory.DefaultName, StateDirectory.AdminFileName))
            .Where(file => StateDirectory.ReadAdminInfo(file) is { } info && ProcessTable.IsAlive(info.Pid))
            .ToList();
        return running.Count <= 1
            ? running.SingleOrDefault()
            : throw new CliException($"several Flotillas are running here; pick one with --state-dir: {string.Join(", ", running.Select(Path.GetDirectoryName))}");
    }
}
