using System.Text.Json;
using Flotilla.Api;
using Flotilla.Core.Events;

namespace Flotilla.Hosting;

/// <summary>
/// Where events go besides the in-memory log: Flotilla's own log (so that <c>flotilla up</c> shows the fleet's life as it
/// happens) and <c>events.jsonl</c> in the state directory (so that they survive a crash, for the post-mortem).
/// </summary>
internal sealed partial class EventSinks : IDisposable
{
    private readonly EventLog _events;
    private readonly ILogger _logger;
    private readonly StreamWriter _file;

    public EventSinks(EventLog events, StateDirectory stateDirectory, ILoggerFactory loggerFactory)
    {
        _events = events;
        _logger = loggerFactory.CreateLogger("Flotilla.Events");
        _file = new StreamWriter(new FileStream(stateDirectory.EventsFile, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            AutoFlush = true,
        };
        events.Appended += OnAppended;
    }

    public void Dispose()
    {
        _events.Appended -= OnAppended;
        _file.Dispose();
    }

    private void OnAppended(FleetEvent e)
    {
        if (e.IsWarning)
        {
            LogWarningEvent(e.Message);
        }
        else
        {
            LogEvent(e.Message);
        }

        lock (_file)
        {
            _file.WriteLine(JsonSerializer.Serialize(EventDto.From(e), FlotillaJson.Default.EventDto).ReplaceLineEndings(""));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Message}")]
    private partial void LogEvent(string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    private partial void LogWarningEvent(string message);
}
